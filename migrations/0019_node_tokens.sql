-- Model tokens an attempt used (the llm handler reports them with its result): a node's
-- are the sum over its attempts; the history views and workflow_stats sum them per node,
-- run and workflow.
ALTER TABLE trellis.node_attempts ADD COLUMN tokens_in bigint CONSTRAINT node_attempts_tokens_in_nonnegative CHECK (tokens_in >= 0);
ALTER TABLE trellis.node_attempts ADD COLUMN tokens_out bigint CONSTRAINT node_attempts_tokens_out_nonnegative CHECK (tokens_out >= 0);
