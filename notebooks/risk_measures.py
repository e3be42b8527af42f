# Databricks notebook source
# MAGIC %md
# MAGIC # Risk measures of one portfolio
# MAGIC Every measure riskstream computes for the chosen portfolio, with its inputs: parametric and
# MAGIC historical VaR and Expected Shortfall (`gold.portfolio_risk`), the risk factors and the
# MAGIC volatility each one is given (`gold.risk_factors`, written daily by `riskstream risk factors`),
# MAGIC the stress scenarios (`gold.stress_results`, `riskstream risk stress`) and the VaR backtest
# MAGIC (`gold.var_backtest`, `riskstream risk backtest`). Amounts are in the portfolio's base currency.
# MAGIC The rules are in docs/gold-and-risk.md ("The risk model", "Stress tests", "VaR backtesting").

# COMMAND ----------

dbutils.widgets.text("target", "local", "Target (local, or a bundle target)")
dbutils.widgets.text("conf", "", "Conf profile (empty: the target's)")
dbutils.widgets.text("settings", "", "Deployment settings (KEY=VALUE ..., from the bundle's notebooks job)")
dbutils.widgets.text("portfolio_id", "", "Portfolio (empty: the one using most of its VaR limit)")

# COMMAND ----------

from riskstream import analytics

settings = analytics.notebook_settings(dbutils.widgets.get)
portfolio_id = analytics.chosen_portfolio(spark, settings, dbutils.widgets.get("portfolio_id"))
print(f"portfolio {portfolio_id}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Measures (parametric: EWMA or reference volatilities and factor correlations; historical:
# MAGIC the book revalued in each daily scenario; stress: the worst scenario)

# COMMAND ----------

measures, flags = analytics.risk_measures(spark, settings, portfolio_id)
display(measures)
print(flags)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Risk factors: exposure and the volatility used (largest exposure first)
# MAGIC An instrument's price in its currency, and each currency's USD rate: a position of value w adds w to
# MAGIC its instrument, +w to its currency and -w to the book's base currency.

# COMMAND ----------

display(analytics.factor_inputs(spark, settings, portfolio_id))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Stress scenarios (largest loss first; empty until `riskstream risk stress` has run)

# COMMAND ----------

display(analytics.portfolio_stress(spark, settings, portfolio_id))

# COMMAND ----------

# MAGIC %md
# MAGIC ## VaR backtest: 250 days of 99 % one-day VaR against the book's hypothetical P&L
# MAGIC Basel traffic light: green 0-4, yellow 5-9, red 10 or more exceptions. Empty until
# MAGIC `riskstream risk backtest` has run.

# COMMAND ----------

summary, series = analytics.portfolio_backtest(spark, settings, portfolio_id)
display(summary)
if len(series):
    display(analytics.backtest_figure(series, portfolio_id))
