"""Third-party payment (thdPay) of the person's own part: the platform interface
(platform.py), WeChat Pay through the wechatpayv3 library (wechat.py), the daily bill
(bill.py) and a WeChat Pay v3 simulator run as its own process (simulator.py,
``yibao paysim``). See docs/online-payment-platform.md."""
