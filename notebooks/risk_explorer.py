# Databricks notebook source
# MAGIC %md
# MAGIC # Risk explorer
# MAGIC Exposure, VaR and limit use per portfolio, then the chosen portfolio's positions and alerts.
# MAGIC Amounts are in each portfolio's base currency; VaR is parametric, 99 %, 1 and 10 days
# MAGIC (`riskstream.analytics.risk_overview`). Leave `portfolio_id` empty to see every portfolio.

# COMMAND ----------

dbutils.widgets.dropdown("target", "local", ["local", "dev", "prod"], "Target")
dbutils.widgets.text("portfolio_id", "", "Portfolio (empty: all)")

# COMMAND ----------

from riskstream import analytics
from riskstream.config import load_settings

settings = load_settings(dbutils.widgets.get("target"))
portfolio_id = dbutils.widgets.get("portfolio_id").strip() or None

# COMMAND ----------

# MAGIC %md
# MAGIC ## Exposure, VaR and limit use

# COMMAND ----------

display(analytics.risk_overview(spark, settings, portfolio_id))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Positions (largest absolute market value first)

# COMMAND ----------

display(analytics.portfolio_positions(spark, settings, portfolio_id))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Risk alerts (newest window first)

# COMMAND ----------

display(analytics.portfolio_alerts(spark, settings, portfolio_id))
