# Databricks notebook source
# MAGIC %md
# MAGIC # Risk explorer
# MAGIC Exposure, VaR and limit use per portfolio, then the chosen portfolio's positions, alerts and
# MAGIC intraday P&L with the marks it was priced at. Amounts are in each portfolio's base currency; VaR
# MAGIC is parametric, 99 %, 1 and 10 days (`riskstream.analytics.risk_overview`). Leave `portfolio_id`
# MAGIC empty to see every portfolio, and `trading_date` empty for the latest trading day's P&L.

# COMMAND ----------

dbutils.widgets.text("target", "local", "Target (local, or a bundle target)")
dbutils.widgets.text("conf", "", "Conf profile (empty: the target's)")
dbutils.widgets.text("settings", "", "Deployment settings (KEY=VALUE ..., from the bundle's notebooks job)")
dbutils.widgets.text("portfolio_id", "", "Portfolio (empty: all)")
dbutils.widgets.text("trading_date", "", "P&L trading date, YYYY-MM-DD (empty: the latest)")

# COMMAND ----------

from riskstream import analytics

settings = analytics.notebook_settings(dbutils.widgets.get)
portfolio_id = dbutils.widgets.get("portfolio_id").strip() or None
trading_date = analytics.parse_date(dbutils.widgets.get("trading_date"), "trading_date")

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

# COMMAND ----------

# MAGIC %md
# MAGIC ## Intraday P&L by instrument (since the start of the trading day; largest first)
# MAGIC Realized + unrealized = total = market value - start-of-day value - (cost of the day's buys -
# MAGIC proceeds of its sells), in the portfolio's base currency.

# COMMAND ----------

pnl = analytics.portfolio_pnl(spark, settings, portfolio_id, trading_date)
display(pnl)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The marks behind the P&L (instrument prices in their currency; FX in USD per unit)

# COMMAND ----------

display(analytics.pnl_marks(spark, settings, pnl))
