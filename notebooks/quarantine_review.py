# Databricks notebook source
# MAGIC %md
# MAGIC # Quarantine review and replay
# MAGIC 1. Quarantined records per reason and day, then the records of one reason with their raw payload.
# MAGIC 2. To replay: paste the corrected events (a JSON array, or one JSON object per line) into
# MAGIC    `corrected_events`. They are validated against the event contract; each gets a new `event_id`
# MAGIC    (the quarantined one travels in the `republish_of` header). Nothing is published unless every
# MAGIC    event is valid **and** `publish` is `yes`; otherwise the table below says what would happen.

# COMMAND ----------

dbutils.widgets.text("target", "local", "Target (local, or a bundle target)")
dbutils.widgets.text("conf", "", "Conf profile (empty: the target's)")
dbutils.widgets.text("settings", "", "Deployment settings (KEY=VALUE ..., from the bundle's notebooks job)")
dbutils.widgets.text("start_date", "", "From (YYYY-MM-DD, optional)")
dbutils.widgets.text("end_date", "", "To (YYYY-MM-DD, optional)")
dbutils.widgets.text("reason", "", "Reason code (empty: all)")
dbutils.widgets.text("corrected_events", "", "Corrected events (JSON)")
dbutils.widgets.dropdown("publish", "no", ["no", "yes"], "Publish corrected events")

# COMMAND ----------

from riskstream import analytics

settings = analytics.notebook_settings(dbutils.widgets.get)
start_date, end_date = analytics.parse_date_range(dbutils.widgets.get("start_date"), dbutils.widgets.get("end_date"))
reason = dbutils.widgets.get("reason").strip() or None
corrected_text = dbutils.widgets.get("corrected_events")
publish = analytics.parse_choice(dbutils.widgets.get("publish"), "publish", ["no", "yes"]) == "yes"

# COMMAND ----------

display(analytics.quarantine_summary(spark, settings, start_date, end_date))

# COMMAND ----------

display(analytics.quarantine_records(spark, settings, reason))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Replay corrected events

# COMMAND ----------

if corrected_text.strip():
    outcomes = analytics.republish_quarantined(
        settings, analytics.parse_corrected_events(corrected_text), dry_run=not publish
    )
    display(analytics.outcomes_frame(spark, outcomes))
