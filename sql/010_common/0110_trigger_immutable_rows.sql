-- Published versions, their nodes and edges, and templates never change.
CREATE OR REPLACE TRIGGER workflow_versions_immutable
    BEFORE UPDATE OR DELETE ON trellis.workflow_versions
    FOR EACH ROW EXECUTE FUNCTION trellis.refuse_change();

CREATE OR REPLACE TRIGGER workflow_nodes_immutable
    BEFORE UPDATE OR DELETE ON trellis.workflow_nodes
    FOR EACH ROW EXECUTE FUNCTION trellis.refuse_change();

CREATE OR REPLACE TRIGGER workflow_edges_immutable
    BEFORE UPDATE OR DELETE ON trellis.workflow_edges
    FOR EACH ROW EXECUTE FUNCTION trellis.refuse_change();

CREATE OR REPLACE TRIGGER workflow_templates_immutable
    BEFORE UPDATE OR DELETE ON trellis.workflow_templates
    FOR EACH ROW EXECUTE FUNCTION trellis.refuse_change();

-- Events are appended, never edited (deleting whole runs for retention stays possible).
CREATE OR REPLACE TRIGGER run_events_append_only
    BEFORE UPDATE ON trellis.run_events
    FOR EACH ROW EXECUTE FUNCTION trellis.refuse_change();
