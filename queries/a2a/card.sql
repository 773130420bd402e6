-- The agent card of a workflow for a principal who may run it.
SELECT trellis.a2a_agent_card($1, $2, $3) AS document
