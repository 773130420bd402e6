-- An approval's kind (gate or input), or no row for an unknown approval.
SELECT kind FROM trellis.approvals WHERE id = $1::uuid
