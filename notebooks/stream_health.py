# Databricks notebook source
# MAGIC %md
# MAGIC # Stream health
# MAGIC One row per pipeline table, from its Delta history: current version, last commit time and
# MAGIC operation, last streaming micro-batch id, commits and rows written
# MAGIC (`riskstream.analytics.stream_health`). A table whose `last_commit_ts` stops moving while
# MAGIC events arrive points at a stopped or failing query.

# COMMAND ----------

dbutils.widgets.text("target", "local", "Target (local, or a bundle target)")
dbutils.widgets.text("conf", "", "Conf profile (empty: the target's)")
dbutils.widgets.text("settings", "", "Deployment settings (KEY=VALUE ..., from the bundle's notebooks job)")

# COMMAND ----------

from riskstream import analytics

settings = analytics.notebook_settings(dbutils.widgets.get)

# COMMAND ----------

display(analytics.stream_health(spark, settings))
