"""Binding an aiohttp app to a configured port, with an error that says which setting to change."""

from __future__ import annotations

from aiohttp import web


async def serve_app(app: web.Application, host: str, port: int, setting: str,
                    shutdown_timeout: float = 2.0) -> tuple[web.AppRunner, int]:
    """Start `app` on host:port; return the runner and the port really bound (port 0 picks one).

    A port in use raises OSError naming `setting` (e.g. "[HTTP] Port or --http-port").
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(exc.errno, f"{host}:{port} is not available ({exc.strerror}); "
                      f"change {setting}") from None
    return runner, runner.addresses[0][1]
