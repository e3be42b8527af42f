# Databricks notebook source
# MAGIC %md
# MAGIC # Stream health
# MAGIC One row per pipeline table, from its Delta history: current version, last commit time and
# MAGIC operation, last streaming micro-batch id, commits and rows written
# MAGIC (`riskstream.analytics.stream_health`). A table whose `last_commit_ts` stops moving while
# MAGIC events arrive points at a stopped or failing query.

# COMMAND ----------

dbutils.widgets.dropdown("target", "local", ["local", "dev", "prod"], "Target")

# COMMAND ----------

from riskstream import analytics
from riskstream.config import load_settings

settings = load_settings(dbutils.widgets.get("target"))

# COMMAND ----------

display(analytics.stream_health(spark, settings))
