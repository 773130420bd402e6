-- The feed position a subscriber without a cursor starts from.
SELECT trellis.run_feed_head() AS cursor
