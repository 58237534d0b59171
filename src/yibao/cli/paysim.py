"""``yibao paysim``: a payment platform's simulator as its own process, WeChat Pay v3
(the default) or Alipay's openapi gateway (``--style alipay``)
(docs/online-payment-platform.md)."""

from __future__ import annotations

import typer

from yibao.cli.common import console

STYLES = ("wechat", "alipay")


def paysim(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8090, "--port", help="TCP port to listen on"),
    style: str = typer.Option(
        "wechat", "--style", help="the platform spoken: wechat (WeChat Pay API v3) or "
        "alipay (Alipay's openapi gateway, /gateway.do)"),
    notify_delay: float = typer.Option(
        0.0, "--notify-delay", min=0.0, help="seconds before a notification's first attempt"),
    retry_scale: float = typer.Option(
        1.0, "--retry-scale", min=0.0,
        help="factor on the platform's retry schedule (WeChat: 15 s, 15 s, 30 s, 3 min ... "
             "6 h; Alipay: 4 min, 10 min, 10 min, 1 h, 2 h, 6 h, 15 h)"),
) -> None:
    """Run a payment platform's simulator with the DEMO keys (demo and tests only):
    orders, the person's pay page, signed notifications with retries, refunds, the daily
    bill, and the /_sim controls."""
    import uvicorn

    if style not in STYLES:
        raise typer.BadParameter(f"--style is one of {', '.join(STYLES)}, not {style!r}")
    if style == "alipay":
        from yibao.thirdpay.alipay_sim import AlipaySimConfig
        from yibao.thirdpay.alipay_sim import create_app as alipay_app
        from yibao.thirdpay.keys import demo_alipay

        app = alipay_app(AlipaySimConfig(keys=demo_alipay(), notify_delay_s=notify_delay,
                                         retry_scale=retry_scale))
        name = "Alipay"
    else:
        from yibao.thirdpay.keys import demo_platform
        from yibao.thirdpay.simulator import SimConfig, create_app

        app = create_app(SimConfig(keys=demo_platform(), notify_delay_s=notify_delay,
                                   retry_scale=retry_scale))
        name = "WeChat Pay"
    console.print(f"{name} simulator on http://{host}:{port} (DEMO keys)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
