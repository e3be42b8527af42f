# Databricks notebook source
# MAGIC %md
# MAGIC # Data quality
# MAGIC Per UTC ingest day: events in (bronze), accepted (silver.trades), quarantined, of which duplicates
# MAGIC and late events, records not yet accounted for (0 when silver is up to date), and the accept rate
# MAGIC (`riskstream.analytics.data_quality`);
# MAGIC then the quarantine reasons for the same days; then what each silver micro-batch did with its
# MAGIC rows (`ops.data_quality`, newest first).

# COMMAND ----------

dbutils.widgets.text("target", "local", "Target (local, or a bundle target)")
dbutils.widgets.text("conf", "", "Conf profile (empty: the target's)")
dbutils.widgets.text("settings", "", "Deployment settings (KEY=VALUE ..., from the bundle's notebooks job)")
dbutils.widgets.text("start_date", "", "From (YYYY-MM-DD, optional)")
dbutils.widgets.text("end_date", "", "To (YYYY-MM-DD, optional)")

# COMMAND ----------

from riskstream import analytics

settings = analytics.notebook_settings(dbutils.widgets.get)
start_date, end_date = analytics.parse_date_range(dbutils.widgets.get("start_date"), dbutils.widgets.get("end_date"))

# COMMAND ----------

quality = analytics.data_quality(spark, settings, start_date, end_date).toPandas()
display(quality)
display(analytics.quality_figure(quality))

# COMMAND ----------

display(analytics.quarantine_summary(spark, settings, start_date, end_date))

# COMMAND ----------

display(analytics.batch_quality(spark, settings, start_date, end_date))
