"""Third-party payment of the person's own part (thdPay): docs/online-payment.md."""
