package io.riskstream.lifecycle;

import java.io.Serializable;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;

/**
 * One trade's lifecycle state, as kept in Spark's state store (a bean: Spark encodes its properties).
 *
 * <p>Mirrors {@code _TradeState} in transformations/lifecycle.py. {@code stateVersion} says which
 * layout wrote it; a new layout gets a new number and a checkpoint holding an older one is refused.
 */
public class TradeState implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The layout of this class. */
  public static final int STATE_VERSION = 1;

  private int stateVersion = STATE_VERSION;
  /** null (unknown trade), "open" or "cancelled". */
  private String status;
  private int currentVersion;
  private BigDecimal openSignedQuantity = BigDecimal.ZERO;
  private double openNotionalBase;
  private double openCostBase;
  /** event_id -> its trade_ts in ms since epoch, for every event that reached the lifecycle rules. */
  private Map<String, Long> seenEventIds = new HashMap<>();
  private long lastEventTsMs;

  public TradeState() {}

  public int getStateVersion() {
    return stateVersion;
  }

  public void setStateVersion(int stateVersion) {
    this.stateVersion = stateVersion;
  }

  public String getStatus() {
    return status;
  }

  public void setStatus(String status) {
    this.status = status;
  }

  public int getCurrentVersion() {
    return currentVersion;
  }

  public void setCurrentVersion(int currentVersion) {
    this.currentVersion = currentVersion;
  }

  public BigDecimal getOpenSignedQuantity() {
    return openSignedQuantity;
  }

  public void setOpenSignedQuantity(BigDecimal openSignedQuantity) {
    this.openSignedQuantity = openSignedQuantity;
  }

  public double getOpenNotionalBase() {
    return openNotionalBase;
  }

  public void setOpenNotionalBase(double openNotionalBase) {
    this.openNotionalBase = openNotionalBase;
  }

  public double getOpenCostBase() {
    return openCostBase;
  }

  public void setOpenCostBase(double openCostBase) {
    this.openCostBase = openCostBase;
  }

  public Map<String, Long> getSeenEventIds() {
    return seenEventIds;
  }

  public void setSeenEventIds(Map<String, Long> seenEventIds) {
    this.seenEventIds = seenEventIds == null ? new HashMap<>() : new HashMap<>(seenEventIds);
  }

  public long getLastEventTsMs() {
    return lastEventTsMs;
  }

  public void setLastEventTsMs(long lastEventTsMs) {
    this.lastEventTsMs = lastEventTsMs;
  }
}
