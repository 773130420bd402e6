SELECT kind, name, version, checksum FROM trellis.schema_state()
