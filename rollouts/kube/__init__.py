"""The only code that imports `kubernetes`: the async client adapter, error mapping, resource table, patches."""
