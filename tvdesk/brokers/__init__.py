"""Floor 4 — where orders go: one Broker protocol, the paper broker, and the live one over
ccxt (sender, watch, protect, precision, errors). Imports core, support, config and store."""
