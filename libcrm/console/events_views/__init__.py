"""Console pages for interaction data (issue 3): the patron's timeline and activity, the event
store's overview, the ingestion history and importing a CSV or XLSX file. They read the event
store through ``libcrm.events.selectors`` and import through ``libcrm.ingest.services``."""
