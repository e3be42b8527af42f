package io.riskstream.lifecycle;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.FlatMapGroupsWithStateFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.GroupState;
import org.apache.spark.sql.streaming.GroupStateTimeout;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Silver's stateful operator, keyed by trade_id: dedupe and the NEW / AMEND / CANCEL lifecycle.
 *
 * <p>The rules are those of transformations/lifecycle.py (its module docstring is the
 * specification), in the same order and with the same names: {@link #expireState}, {@link
 * #processRow}, {@link #lifecycleReason}, {@link #stateExpiry}. Every input row comes out exactly
 * once, with one more reason code when it is rejected, or with its lifecycle delta when accepted.
 * Python reaches it through {@code track_lifecycle}, which declares the watermark first.
 */
public final class TradeLifecycle implements FlatMapGroupsWithStateFunction<String, Row, TradeState, Row> {
  private static final long serialVersionUID = 1L;

  /** The columns the operator adds, each null on a quarantined row (LIFECYCLE_FIELDS in Python). */
  static final StructField[] LIFECYCLE_FIELDS = {
    DataTypes.createStructField("previous_trade_version", DataTypes.IntegerType, true),
    DataTypes.createStructField("delta_quantity", DataTypes.createDecimalType(28, 8), true),
    DataTypes.createStructField("delta_notional_base", DataTypes.DoubleType, true),
    DataTypes.createStructField("delta_cost_base", DataTypes.DoubleType, true),
  };

  private static final String OPEN = "open";
  private static final String CANCELLED = "cancelled";

  private final long ttlMs;
  private final int[] passThrough;
  private final int outputWidth;
  private final int eventId;
  private final int eventType;
  private final int tradeId;
  private final int tradeVersion;
  private final int signedQuantity;
  private final int price;
  private final int multiplier;
  private final int fxRateToBase;
  private final int signedNotionalBase;
  private final int reasonCodes;
  private final int reasonDetails;
  private final int sourceTopic;
  private final int sourcePartition;
  private final int sourceOffset;
  private final int eventTsMs;
  private final int outReasonCodes;
  private final int outReasonDetails;

  private TradeLifecycle(StructType input, String eventTimeColumn, String eventTsMsColumn, long ttlMs) {
    this.ttlMs = ttlMs;
    List<Integer> kept = new ArrayList<>();
    for (int i = 0; i < input.fields().length; i++) {
      if (!input.fields()[i].name().equals(eventTimeColumn)) {
        kept.add(i);
      }
    }
    this.passThrough = kept.stream().mapToInt(Integer::intValue).toArray();
    this.outputWidth = passThrough.length + LIFECYCLE_FIELDS.length;
    this.eventId = input.fieldIndex("event_id");
    this.eventType = input.fieldIndex("event_type");
    this.tradeId = input.fieldIndex("trade_id");
    this.tradeVersion = input.fieldIndex("trade_version");
    this.signedQuantity = input.fieldIndex("signed_quantity");
    this.price = input.fieldIndex("price");
    this.multiplier = input.fieldIndex("multiplier");
    this.fxRateToBase = input.fieldIndex("fx_rate_to_base");
    this.signedNotionalBase = input.fieldIndex("signed_notional_base");
    this.reasonCodes = input.fieldIndex("reason_codes");
    this.reasonDetails = List.of(input.fieldNames()).contains("reason_details") ? input.fieldIndex("reason_details") : -1;
    this.sourceTopic = input.fieldIndex("source_topic");
    this.sourcePartition = input.fieldIndex("source_partition");
    this.sourceOffset = input.fieldIndex("source_offset");
    this.eventTsMs = input.fieldIndex(eventTsMsColumn);
    this.outReasonCodes = kept.indexOf(reasonCodes);
    this.outReasonDetails = reasonDetails < 0 ? -1 : kept.indexOf(reasonDetails);
  }

  /**
   * Applies the operator to a watermarked stream grouped by trade_id.
   *
   * @param events rows with the columns track_lifecycle requires, the event-time column that carries
   *     the watermark, and {@code eventTsMsColumn} (trade_ts in ms since epoch)
   * @param eventTimeColumn the watermarked column, dropped from the output
   * @param eventTsMsColumn trade_ts in ms since epoch, kept in the output
   * @param ttlMs the lifecycle state TTL in ms (silver.lifecycle_state_ttl)
   * @return the input's columns (without {@code eventTimeColumn}), then the lifecycle fields
   */
  public static Dataset<Row> apply(Dataset<Row> events, String eventTimeColumn, String eventTsMsColumn, long ttlMs) {
    StructType input = events.schema();
    StructType output = new StructType();
    for (StructField field : input.fields()) {
      if (!field.name().equals(eventTimeColumn)) {
        output = output.add(field);
      }
    }
    for (StructField field : LIFECYCLE_FIELDS) {
      output = output.add(field);
    }
    // groupBy(column).as(...) rather than groupByKey(function): the key is read from the row as it is,
    // without deserialising every (wide) row into a Row object first just to call a key function.
    return events
        .groupBy(events.col("trade_id"))
        .as(Encoders.STRING(), Encoders.row(input))
        .flatMapGroupsWithState(
            new TradeLifecycle(input, eventTimeColumn, eventTsMsColumn, ttlMs),
            OutputMode.Append(),
            Encoders.bean(TradeState.class),
            Encoders.row(output),
            GroupStateTimeout.EventTimeTimeout());
  }

  @Override
  public Iterator<Row> call(String key, Iterator<Row> values, GroupState<TradeState> state) {
    long watermarkMs = state.getCurrentWatermarkMs();
    TradeState trade = expireState(state.exists() ? state.get() : new TradeState(), watermarkMs, ttlMs);
    List<Row> output = new ArrayList<>();
    if (!state.hasTimedOut()) {
      List<Row> rows = new ArrayList<>();
      values.forEachRemaining(rows::add);
      rows.sort(
          Comparator.comparing((Row row) -> row.getString(sourceTopic), Comparator.nullsFirst(Comparator.naturalOrder()))
              .thenComparing(row -> row.isNullAt(sourcePartition) ? null : row.getInt(sourcePartition),
                  Comparator.nullsFirst(Comparator.naturalOrder()))
              .thenComparing(row -> row.isNullAt(sourceOffset) ? null : row.getLong(sourceOffset),
                  Comparator.nullsFirst(Comparator.naturalOrder())));
      for (Row row : rows) {
        output.add(processRow(row, trade, watermarkMs));
      }
    }
    Long expiry = stateExpiry(trade, ttlMs);
    if (key != null && expiry != null) {
      state.update(trade);
      state.setTimeoutTimestamp(Math.max(expiry, watermarkMs + 1));
    } else if (state.exists()) {
      state.remove();
    }
    return output.iterator();
  }

  /** The state without what the TTL has expired at the watermark (expire_state in Python). */
  static TradeState expireState(TradeState state, long watermarkMs, long ttlMs) {
    TradeState current = state;
    if (current.getStatus() != null && current.getLastEventTsMs() + ttlMs < watermarkMs) {
      TradeState forgotten = new TradeState();
      forgotten.setSeenEventIds(current.getSeenEventIds());
      current = forgotten;
    }
    current.getSeenEventIds().values().removeIf(tradeTsMs -> tradeTsMs + ttlMs < watermarkMs);
    return current;
  }

  /** When the whole state may go, or null when nothing is left (state_expiry in Python). */
  static Long stateExpiry(TradeState state, long ttlMs) {
    Long latest = null;
    for (long tradeTsMs : state.getSeenEventIds().values()) {
      latest = latest == null ? tradeTsMs + ttlMs : Math.max(latest, tradeTsMs + ttlMs);
    }
    if (OPEN.equals(state.getStatus())) {
      long openExpiry = state.getLastEventTsMs() + ttlMs;
      latest = latest == null ? openExpiry : Math.max(latest, openExpiry);
    }
    return latest;
  }

  /** The quarantine reason for an event that is neither too old nor a duplicate, or null to accept it. */
  static String lifecycleReason(TradeState state, String eventType, int version) {
    if (state.getStatus() == null) {
      return "NEW".equals(eventType) ? null : "unknown_trade";
    }
    if (CANCELLED.equals(state.getStatus())) {
      return "already_cancelled";
    }
    int current = state.getCurrentVersion();
    if ("NEW".equals(eventType)) {
      return "duplicate_version";
    }
    if ("AMEND".equals(eventType)) {
      if (version > current) {
        return null;
      }
      return version == current ? "duplicate_version" : "stale_version";
    }
    return version >= current ? null : "stale_version";
  }

  /** Decides one row's fate, updates the state, returns the output row (_process_row in Python). */
  private Row processRow(Row row, TradeState state, long watermarkMs) {
    Object[] out = new Object[outputWidth];
    for (int i = 0; i < passThrough.length; i++) {
      out[i] = row.get(passThrough[i]);
    }
    List<String> reasons = row.isNullAt(reasonCodes) ? new ArrayList<>() : new ArrayList<>(row.getList(reasonCodes));
    List<String> details = null;
    if (reasonDetails >= 0) {
      details = row.isNullAt(reasonDetails) ? new ArrayList<>() : new ArrayList<>(row.getList(reasonDetails));
    }
    if (reasons.isEmpty()) {
      decide(row, state, watermarkMs, reasons, details, out);
    }
    out[outReasonCodes] = reasons.toArray(new String[0]);
    if (outReasonDetails >= 0) {
      out[outReasonDetails] = details.toArray(new String[0]);
    }
    return RowFactory.create(out);
  }

  private void decide(Row row, TradeState state, long watermarkMs, List<String> reasons, List<String> details,
      Object[] out) {
    Map<String, Long> seen = state.getSeenEventIds();
    long tradeTsMs = row.getLong(eventTsMs);
    String type = row.getString(eventType);
    int version = row.getInt(tradeVersion);
    String id = row.getString(eventId);
    if (tradeTsMs + ttlMs < watermarkMs) {
      reject(reasons, details, "beyond_state_ttl",
          "trade_ts is more than the lifecycle state TTL before the event-time watermark (" + watermarkMs
              + " ms since epoch): too old to check for a resend or to place in its trade's lifecycle");
      return;
    }
    if (seen.containsKey(id)) {
      reject(reasons, details, "duplicate",
          "event_id " + id + " was already processed for trade " + row.getString(tradeId));
      return;
    }
    seen.put(id, tradeTsMs);
    String reason = lifecycleReason(state, type, version);
    if (reason != null) {
      String current = state.getStatus() == null ? "none" : state.getStatus() + " at version " + state.getCurrentVersion();
      reject(reasons, details, reason,
          type + " version " + version + " for trade " + row.getString(tradeId) + " (" + current + ")");
      return;
    }
    BigDecimal quantity = row.getDecimal(signedQuantity);
    state.setLastEventTsMs(Math.max(state.getLastEventTsMs(), tradeTsMs));
    double notionalBase = row.getDouble(signedNotionalBase);
    double costBase = quantity.doubleValue() * row.getDecimal(price).doubleValue() * row.getDouble(multiplier)
        * row.getDouble(fxRateToBase);
    int lifecycle = passThrough.length;
    out[lifecycle] = state.getStatus() != null ? state.getCurrentVersion() : null;
    if ("CANCEL".equals(type)) {
      out[lifecycle + 1] = scaled(state.getOpenSignedQuantity().negate());
      out[lifecycle + 2] = -state.getOpenNotionalBase();
      out[lifecycle + 3] = -state.getOpenCostBase();
      state.setStatus(CANCELLED);
      state.setCurrentVersion(Math.max(version, state.getCurrentVersion()));
      state.setOpenSignedQuantity(BigDecimal.ZERO);
      state.setOpenNotionalBase(0.0);
      state.setOpenCostBase(0.0);
      return;
    }
    out[lifecycle + 1] = scaled(quantity.subtract(state.getOpenSignedQuantity()));
    out[lifecycle + 2] = notionalBase - state.getOpenNotionalBase();
    out[lifecycle + 3] = costBase - state.getOpenCostBase();
    state.setStatus(OPEN);
    state.setCurrentVersion(version);
    state.setOpenSignedQuantity(quantity);
    state.setOpenNotionalBase(notionalBase);
    state.setOpenCostBase(costBase);
  }

  private static void reject(List<String> reasons, List<String> details, String code, String detail) {
    reasons.add(code);
    if (details != null) {
      details.add(code + ": " + detail);
    }
  }

  private static BigDecimal scaled(BigDecimal quantity) {
    return quantity.setScale(8, RoundingMode.UNNECESSARY);
  }
}
