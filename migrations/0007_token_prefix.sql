-- Tokens are revoked and listed by their prefix, so it must name one token.
CREATE UNIQUE INDEX api_tokens_prefix_idx ON trellis.api_tokens (prefix);
