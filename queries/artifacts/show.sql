-- One artifact's document.
SELECT trellis.show_artifact($1, $2) AS document
