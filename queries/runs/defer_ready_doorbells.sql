SELECT set_config('trellis.deferred_doorbells', '[]', true)
