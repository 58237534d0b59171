"""``yibao paysim``: the WeChat Pay v3 simulator as its own process
(docs/online-payment-platform.md)."""

from __future__ import annotations

import typer

from yibao.cli.common import console


def paysim(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8090, "--port"),
    notify_delay: float = typer.Option(
        0.0, "--notify-delay", min=0.0, help="seconds before a notification's first attempt"),
    retry_scale: float = typer.Option(
        1.0, "--retry-scale", min=0.0,
        help="factor on WeChat's retry schedule (15 s, 15 s, 30 s, 3 min ... 6 h)"),
) -> None:
    """Run the WeChat Pay v3 simulator with the DEMO keys (demo and tests only): orders,
    the cashier page, signed and encrypted notifications with retries, refunds, the daily
    bill, and the /_sim controls."""
    import uvicorn

    from yibao.thirdpay.keys import demo_platform
    from yibao.thirdpay.simulator import SimConfig, create_app

    app = create_app(SimConfig(keys=demo_platform(), notify_delay_s=notify_delay,
                               retry_scale=retry_scale))
    console.print(f"WeChat Pay simulator on http://{host}:{port} (DEMO keys)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
