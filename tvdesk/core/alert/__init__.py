"""A TradingView alert, from webhook body to validated `Alert`: canonical fields, value
converters, the JSON dialect family, parsing, redaction, canonical JSON. Standard library only."""
