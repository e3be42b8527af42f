# Databricks notebook source
# MAGIC %md
# MAGIC # Risk explorer
# MAGIC Exposure, VaR and limit use per portfolio, then the chosen portfolio's positions and alerts.
# MAGIC Amounts are in each portfolio's base currency; VaR is parametric, 99 %, 1 and 10 days
# MAGIC (`riskstream.analytics.risk_overview`). Leave `portfolio_id` empty to see every portfolio.

# COMMAND ----------

dbutils.widgets.text("target", "local", "Target (local, or a bundle target)")
dbutils.widgets.text("conf", "", "Conf profile (empty: the target's)")
dbutils.widgets.text("settings", "", "Deployment settings (KEY=VALUE ..., from the bundle's notebooks job)")
dbutils.widgets.text("portfolio_id", "", "Portfolio (empty: all)")

# COMMAND ----------

from riskstream import analytics

settings = analytics.notebook_settings(dbutils.widgets.get)
portfolio_id = dbutils.widgets.get("portfolio_id").strip() or None

# COMMAND ----------

# MAGIC %md
# MAGIC ## Exposure, VaR and limit use (the chart: use of each limit, above 100 % is a breach)

# COMMAND ----------

overview = analytics.risk_overview(spark, settings, portfolio_id).toPandas()
display(overview)
display(analytics.limit_use_figure(overview))

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
