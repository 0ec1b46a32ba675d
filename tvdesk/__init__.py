"""tvdesk: TradingView alerts to exchange orders, from your own PC."""

__version__ = "0.1.0"
