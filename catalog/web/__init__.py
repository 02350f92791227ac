"""HTTP delivery of the catalog beside OAI-PMH: the JSON API (`catalog.web.api`) and the web catalog."""
