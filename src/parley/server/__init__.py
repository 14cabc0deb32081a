"""aiohttp transport around the sans-I/O core: sockets, timers, static pages."""
