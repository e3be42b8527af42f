package io.riskstream.parsing;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.chrono.IsoChronology;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.ResolverStyle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Silver's parse and validation of one bronze record, as one function on Spark's public Java API.
 *
 * <p>The specification is {@code parse_events_reference} in transformations/parsing.py (Spark SQL),
 * and the rules come from the JSON Schemas through that module ({@code jvm_parse_rules}): which fields,
 * their Spark types, which versions define and require them, each value rule and every message. This
 * class only runs them, the way the specification does, step for step:
 *
 * <ol>
 *   <li>An empty value, a {@code \}u escape of a lone UTF-16 surrogate, or anything but one JSON object
 *       is {@code malformed_json}, alone. The text is read wrapped as {@code [<text>]} and must give an
 *       array of exactly one object, as Spark's {@code try_parse_json} reads it: Jackson's default
 *       factory, numbers classified as Spark's VARIANT does (integer, exact decimal of at most 38
 *       digits, else double), a duplicate key anywhere makes the record malformed, anything after the
 *       wrapper's first value is ignored.
 *   <li>A field is present when its key exists with a non-null value. A known {@code schema_version}
 *       hides the fields its version does not define.
 *   <li>Each present field converts to its Spark type or is null: strings from JSON strings, integers
 *       from JSON integers, decimals from JSON numbers or numeric strings (Spark's string to decimal
 *       cast: trimmed, then exact at the contract's scale, checked against a wider decimal so nothing
 *       is rounded), timestamps from strings matching the pattern and parsed strictly.
 *   <li>Reasons, in order: {@code unknown_schema_version}, then {@code missing_<field>} /
 *       {@code invalid_<field>} in contract order (wrong type first, then the rules in order; one
 *       detail, the first that applies). Details quote values as Spark's {@code to_json} of a VARIANT
 *       writes them (object keys sorted, decimals without trailing zeros).
 * </ol>
 *
 * <p>What needs the record's bytes or the batch's time stays in Spark SQL around this call: UTF-8
 * validity ({@code invalid_utf8}, which replaces every code here) and {@code future_trade_ts}.
 * tests/test_parsing.py runs every case through both implementations and a hypothesis property
 * compares them on generated records.
 */
public final class EventParser implements UDF2<String, String, Row> {
  private static final long serialVersionUID = 1L;
  private static final JsonFactory JSON = new JsonFactory();
  private static final ObjectMapper RULES = new ObjectMapper();

  private final List<Integer> versions;
  private final Pattern loneSurrogate;
  private final String malformedCode;
  private final String emptyDetail;
  private final String loneSurrogateDetail;
  private final String notObjectDetail;
  private final int versionField;
  private final String versionCode;
  private final String versionAbsent;
  private final String versionNotInteger;
  private final String versionUnknown;
  private final String versionPayloadSays;
  private final String versionHeaderSays;
  private final int exactPrecision;
  private final int exactScale;
  private final String timestampPattern;
  private final Field[] fields;
  private transient DateTimeFormatter timestampFormatter;

  /** The kinds of JSON value, as Spark's VARIANT tells them apart. */
  enum Kind { OBJECT, ARRAY, NULL, BOOLEAN, LONG, DECIMAL, DOUBLE, STRING }

  /** One parsed JSON value; {@code value} is a Map, List, Boolean, Long, BigDecimal, Double or String. */
  record Json(Kind kind, Object value) {
    static final Json NULL = new Json(Kind.NULL, null);
  }

  /** One contract field: its Spark type, the versions that define and require it, its value rules. */
  record Field(String name, String type, DataType dataType, List<Integer> definedIn,
      List<Integer> requiredIn, String missingCode, String missingDetail, String invalidCode, String wrongType,
      Rule[] rules, Pattern timestampPattern) implements java.io.Serializable {}

  /** One value rule of the JSON Schema: enum, pattern, min_length, max_length, minimum, exclusive_minimum. */
  record Rule(String kind, Object argument, String message) implements java.io.Serializable {}

  EventParser(String rulesJson) {
    JsonNode rules;
    try {
      rules = RULES.readTree(rulesJson);
    } catch (IOException error) {
      throw new IllegalArgumentException("the parse rules are not JSON: " + error.getMessage(), error);
    }
    this.versions = integers(rules.get("versions"));
    this.loneSurrogate = Pattern.compile(rules.get("lone_surrogate_escape").asText());
    JsonNode malformed = rules.get("malformed");
    this.malformedCode = malformed.get("code").asText();
    this.emptyDetail = malformed.get("empty").asText();
    this.loneSurrogateDetail = malformed.get("lone_surrogate").asText();
    this.notObjectDetail = malformed.get("not_object").asText();
    JsonNode version = rules.get("schema_version");
    this.versionCode = version.get("code").asText();
    this.versionAbsent = version.get("absent").asText();
    this.versionNotInteger = version.get("not_integer").asText();
    this.versionUnknown = version.get("unknown").asText();
    this.versionPayloadSays = version.get("payload_says").asText();
    this.versionHeaderSays = version.get("header_says").asText();
    this.exactPrecision = rules.get("exact_decimal").get(0).asInt();
    this.exactScale = rules.get("exact_decimal").get(1).asInt();
    this.timestampPattern = rules.get("timestamp_format").asText();
    List<Field> parsed = new ArrayList<>();
    for (JsonNode field : rules.get("fields")) {
      parsed.add(field(field));
    }
    this.fields = parsed.toArray(new Field[0]);
    int found = -1;
    for (int i = 0; i < fields.length; i++) {
      if (fields[i].name().equals(version.get("field").asText())) {
        found = i;
      }
    }
    if (found < 0 || !fields[found].type().equals("int")) {
      throw new IllegalArgumentException("the parse rules need an int field " + version.get("field"));
    }
    this.versionField = found;
  }

  /**
   * The parse as a column: a struct of every contract field (typed), {@code reason_codes} and
   * {@code reason_details}.
   *
   * @param rulesJson the rules, as transformations/parsing.py writes them
   * @param rawText the record value as text, null when it is absent or not valid UTF-8
   * @param header the {@code schema_version} Kafka header as text, null when absent
   */
  public static Column column(String rulesJson, Column rawText, Column header) {
    EventParser parser = new EventParser(rulesJson);
    return functions.udf(parser, parser.returnType()).apply(rawText, header);
  }

  /** The struct {@link #call} returns. */
  public StructType returnType() {
    StructType type = new StructType();
    for (Field field : fields) {
      type = type.add(field.name(), field.dataType(), true);
    }
    DataType strings = DataTypes.createArrayType(DataTypes.StringType, false);
    return type.add("reason_codes", strings, false).add("reason_details", strings, false);
  }

  @Override
  public Row call(String text, String header) {
    Object[] out = new Object[fields.length + 2];
    if (text == null || text.isEmpty()) {
      return malformed(out, emptyDetail);
    }
    if (hasLoneSurrogate(text)) {
      return malformed(out, loneSurrogateDetail);
    }
    Map<String, Json> event = singleObject(text);
    if (event == null) {
      return malformed(out, notObjectDetail);
    }
    Json[] present = new Json[fields.length];
    for (int i = 0; i < fields.length; i++) {
      Json value = event.get(fields[i].name());
      present[i] = value == null || value.kind() == Kind.NULL ? null : value;
    }
    Integer version = (Integer) typedValue(fields[versionField], present[versionField]);
    boolean known = version != null && versions.contains(version);
    for (int i = 0; i < fields.length; i++) {
      if (known && !fields[i].definedIn().contains(version)) {
        present[i] = null;
      }
      out[i] = i == versionField ? version : typedValue(fields[i], present[i]);
    }
    List<String> codes = new ArrayList<>();
    List<String> details = new ArrayList<>();
    schemaVersionReason(present[versionField], version, header, codes, details);
    for (int i = 0; i < fields.length; i++) {
      if (i != versionField) {
        fieldReasons(fields[i], present[i], out[i], version, codes, details);
      }
    }
    out[fields.length] = codes.toArray(new String[0]);
    out[fields.length + 1] = details.toArray(new String[0]);
    return RowFactory.create(out);
  }

  private Row malformed(Object[] out, String detail) {
    out[fields.length] = new String[] {malformedCode};
    out[fields.length + 1] = new String[] {malformedCode + ": " + detail};
    return RowFactory.create(out);
  }

  /** The lone-surrogate expression, run only on text that holds a {@code \}uD escape at all. */
  private boolean hasLoneSurrogate(String text) {
    return (text.contains("\\ud") || text.contains("\\uD")) && loneSurrogate.matcher(text).find();
  }

  /** The record's object when {@code [<text>]} parses to an array of exactly one object, else null. */
  static Map<String, Json> singleObject(String text) {
    try (JsonParser parser = JSON.createParser("[" + text + "]")) {
      parser.nextToken();
      Json wrapped = read(parser);
      @SuppressWarnings("unchecked")
      List<Json> values = (List<Json>) wrapped.value();
      if (values.size() != 1 || values.get(0).kind() != Kind.OBJECT) {
        return null;
      }
      @SuppressWarnings("unchecked")
      Map<String, Json> event = (Map<String, Json>) values.get(0).value();
      return event;
    } catch (IOException | DuplicateKey error) {
      return null;
    }
  }

  /** A duplicate key in an object: the VARIANT parser refuses the whole value. */
  static final class DuplicateKey extends Exception {
    private static final long serialVersionUID = 1L;

    DuplicateKey() {
      super(null, null, false, false);
    }
  }

  /** The value at the parser's current token, read as Spark's VARIANT parser reads it. */
  private static Json read(JsonParser parser) throws IOException, DuplicateKey {
    JsonToken token = parser.currentToken();
    if (token == null) {
      throw new JsonParseException(parser, "Unexpected null token");
    }
    switch (token) {
      case START_OBJECT: {
        Map<String, Json> object = new HashMap<>();
        while (parser.nextToken() != JsonToken.END_OBJECT) {
          String key = parser.currentName();
          parser.nextToken();
          if (object.put(key, read(parser)) != null) {
            throw new DuplicateKey();
          }
        }
        return new Json(Kind.OBJECT, object);
      }
      case START_ARRAY: {
        List<Json> array = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          array.add(read(parser));
        }
        return new Json(Kind.ARRAY, array);
      }
      case VALUE_STRING:
        return new Json(Kind.STRING, parser.getText());
      case VALUE_NUMBER_INT:
        try {
          return new Json(Kind.LONG, parser.getLongValue());
        } catch (InputCoercionException tooLarge) {
          return floatingPoint(parser);
        }
      case VALUE_NUMBER_FLOAT:
        return floatingPoint(parser);
      case VALUE_TRUE:
        return new Json(Kind.BOOLEAN, Boolean.TRUE);
      case VALUE_FALSE:
        return new Json(Kind.BOOLEAN, Boolean.FALSE);
      case VALUE_NULL:
        return Json.NULL;
      default:
        throw new JsonParseException(parser, "Unexpected token " + token);
    }
  }

  /** A decimal when the text is plain (no exponent) and fits 38 digits, else a double. */
  private static Json floatingPoint(JsonParser parser) throws IOException {
    String text = parser.getText();
    boolean plain = true;
    for (int i = 0; i < text.length() && plain; i++) {
      char c = text.charAt(i);
      plain = c == '-' || c == '.' || (c >= '0' && c <= '9');
    }
    if (plain) {
      BigDecimal decimal = new BigDecimal(text);
      if (decimal.scale() <= 38 && decimal.precision() <= 38) {
        return new Json(Kind.DECIMAL, decimal);
      }
    }
    return new Json(Kind.DOUBLE, parser.getDoubleValue());
  }

  /** The value as Spark's {@code to_json} writes a VARIANT: for messages, and for numbers read as text. */
  static String toJson(Json value) {
    StringBuilder out = new StringBuilder();
    writeJson(value, out);
    return out.toString();
  }

  @SuppressWarnings("unchecked")
  private static void writeJson(Json value, StringBuilder out) {
    switch (value.kind()) {
      case OBJECT: {
        Map<String, Json> object = (Map<String, Json>) value.value();
        String[] keys = object.keySet().toArray(new String[0]);
        Arrays.sort(keys);
        out.append('{');
        for (int i = 0; i < keys.length; i++) {
          if (i > 0) {
            out.append(',');
          }
          out.append(quote(keys[i])).append(':');
          writeJson(object.get(keys[i]), out);
        }
        out.append('}');
        break;
      }
      case ARRAY: {
        List<Json> array = (List<Json>) value.value();
        out.append('[');
        for (int i = 0; i < array.size(); i++) {
          if (i > 0) {
            out.append(',');
          }
          writeJson(array.get(i), out);
        }
        out.append(']');
        break;
      }
      case NULL:
        out.append("null");
        break;
      case STRING:
        out.append(quote((String) value.value()));
        break;
      case DECIMAL:
        out.append(((BigDecimal) value.value()).stripTrailingZeros().toPlainString());
        break;
      default:
        out.append(value.value());
    }
  }

  /** A JSON string literal, escaped by Jackson's default generator (as Spark's VARIANT writer does). */
  private static String quote(String text) {
    StringWriter out = new StringWriter();
    try (JsonGenerator generator = JSON.createGenerator(out)) {
      generator.writeString(text);
    } catch (IOException error) {
      throw new UncheckedIOException(error);
    }
    return out.toString();
  }

  /** The field converted to its Spark type, or null when absent or not of the contract's JSON type. */
  private Object typedValue(Field field, Json value) {
    if (value == null) {
      return null;
    }
    Kind kind = value.kind();
    switch (field.type()) {
      case "string":
        return kind == Kind.STRING ? value.value() : null;
      case "int": {
        if (kind != Kind.LONG) {
          return null;
        }
        long number = (Long) value.value();
        return number == (int) number ? Integer.valueOf((int) number) : null;
      }
      case "bigint":
        return kind == Kind.LONG ? value.value() : null;
      case "double":
        return kind == Kind.LONG || kind == Kind.DECIMAL || kind == Kind.DOUBLE
            ? Double.valueOf(Double.parseDouble(toJson(value))) : null;
      case "boolean":
        return kind == Kind.BOOLEAN ? value.value() : null;
      case "timestamp":
        return kind == Kind.STRING ? timestamp(field, (String) value.value()) : null;
      case "decimal":
        if (kind == Kind.STRING) {
          return exactDecimal((String) value.value(), (DecimalType) field.dataType());
        }
        return kind == Kind.LONG || kind == Kind.DECIMAL || kind == Kind.DOUBLE
            ? exactDecimal(toJson(value), (DecimalType) field.dataType()) : null;
      default:
        throw new IllegalStateException("no conversion to " + field.type());
    }
  }

  /** Spark's string to decimal cast at (precision, scale), kept only when the wider check decimal equals it. */
  private BigDecimal exactDecimal(String text, DecimalType type) {
    BigDecimal parsed;
    try {
      parsed = new BigDecimal(text.trim());
    } catch (NumberFormatException notANumber) {
      return null;
    }
    if (parsed.precision() - parsed.scale() > 38) {
      return null;
    }
    BigDecimal wide = withPrecision(parsed, exactPrecision, exactScale);
    BigDecimal value = withPrecision(parsed, type.precision(), type.scale());
    return wide != null && value != null && wide.compareTo(value) == 0 ? value : null;
  }

  /** Rounded half up to {@code scale}; null when it then needs more than {@code precision} digits. */
  private static BigDecimal withPrecision(BigDecimal value, int precision, int scale) {
    if (value.scale() - value.precision() > scale + 1) {
      // Below half a unit of the last place: zero (without the division a huge scale would cost).
      return BigDecimal.ZERO.setScale(scale);
    }
    BigDecimal rounded = value.setScale(scale, RoundingMode.HALF_UP);
    return rounded.precision() > precision ? null : rounded;
  }

  private Instant timestamp(Field field, String text) {
    if (!field.timestampPattern().matcher(text).find()) {
      return null;
    }
    try {
      return Instant.from(timestampFormatter().parse(text));
    } catch (DateTimeException notATimestamp) {
      return null;
    }
  }

  /** Spark's parser for the contract's timestamp format: year as proleptic 'u', strict, case-insensitive. */
  private DateTimeFormatter timestampFormatter() {
    if (timestampFormatter == null) {
      StringBuilder pattern = new StringBuilder();
      boolean quoted = false;
      for (char c : timestampPattern.toCharArray()) {
        quoted = c == '\'' ? !quoted : quoted;
        pattern.append(!quoted && c == 'y' ? 'u' : c);
      }
      timestampFormatter = new DateTimeFormatterBuilder().parseCaseInsensitive().appendPattern(pattern.toString())
          .toFormatter(Locale.US).withChronology(IsoChronology.INSTANCE).withResolverStyle(ResolverStyle.STRICT);
    }
    return timestampFormatter;
  }

  private void schemaVersionReason(Json present, Integer version, String header, List<String> codes,
      List<String> details) {
    String detail = null;
    if (present == null) {
      detail = versionAbsent;
    } else if (version == null) {
      detail = toJson(present) + versionNotInteger;
    } else if (!versions.contains(version)) {
      detail = version + versionUnknown;
    } else if (header != null && !header.equals(version.toString())) {
      detail = versionPayloadSays + version + versionHeaderSays + header;
    }
    if (detail != null) {
      codes.add(versionCode);
      details.add(versionCode + ": " + detail);
    }
  }

  private void fieldReasons(Field field, Json present, Object value, Integer version, List<String> codes,
      List<String> details) {
    if (present == null) {
      boolean required = field.requiredIn().size() == versions.size()
          || (version != null && field.requiredIn().contains(version));
      if (required) {
        codes.add(field.missingCode());
        details.add(field.missingCode() + ": " + field.missingDetail());
      }
      return;
    }
    String detail = null;
    if (value == null) {
      detail = toJson(present) + field.wrongType();
    } else {
      for (Rule rule : field.rules()) {
        if (fails(rule, value)) {
          detail = toJson(present) + rule.message();
          break;
        }
      }
    }
    if (detail != null) {
      codes.add(field.invalidCode());
      details.add(field.invalidCode() + ": " + detail);
    }
  }

  /** Whether a converted value breaks one rule. */
  private static boolean fails(Rule rule, Object value) {
    switch (rule.kind()) {
      case "enum":
        return !((List<?>) rule.argument()).contains(value instanceof BigDecimal decimal ? decimal.stripTrailingZeros() : value);
      case "pattern":
        return !((Pattern) rule.argument()).matcher((String) value).find();
      case "min_length":
        return codePoints((String) value) < (Integer) rule.argument();
      case "max_length":
        return codePoints((String) value) > (Integer) rule.argument();
      case "minimum":
        return compare(value, (BigDecimal) rule.argument()) < 0;
      case "exclusive_minimum":
        return compare(value, (BigDecimal) rule.argument()) <= 0;
      default:
        throw new IllegalStateException("unknown rule " + rule.kind());
    }
  }

  private static int codePoints(String text) {
    return text.codePointCount(0, text.length());
  }

  private static int compare(Object value, BigDecimal bound) {
    if (value instanceof BigDecimal decimal) {
      return decimal.compareTo(bound);
    }
    if (value instanceof Double number) {
      return Double.compare(number, bound.doubleValue());
    }
    return new BigDecimal(((Number) value).longValue()).compareTo(bound);
  }

  /** The converted kinds {@link #typedValue} reads, by the Spark type names the rules use. */
  private static final List<String> KINDS = List.of("string", "int", "bigint", "double", "boolean", "timestamp",
      "decimal");

  private static Field field(JsonNode node) {
    String name = node.get("name").asText();
    DataType dataType = DataType.fromDDL(node.get("type").asText());
    String type = dataType instanceof DecimalType ? "decimal" : node.get("type").asText();
    if (!KINDS.contains(type)) {
      throw new IllegalArgumentException("field " + name + " has an unsupported type " + type);
    }
    List<Rule> rules = new ArrayList<>();
    for (JsonNode rule : node.get("rules")) {
      String kind = rule.get("kind").asText();
      JsonNode argument = rule.get("argument");
      Object value = switch (kind) {
        case "enum" -> enumValues(argument, type);
        case "pattern" -> Pattern.compile(argument.asText());
        case "min_length", "max_length" -> argument.asInt();
        case "minimum", "exclusive_minimum" -> argument.decimalValue();
        default -> throw new IllegalArgumentException("field " + name + " has an unknown rule " + kind);
      };
      rules.add(new Rule(kind, value, rule.get("message").asText()));
    }
    JsonNode pattern = node.get("timestamp_pattern");
    return new Field(name, type, dataType, integers(node.get("defined_in")),
        integers(node.get("required_in")), node.get("missing_code").asText(), node.get("missing_detail").asText(),
        node.get("invalid_code").asText(), node.get("wrong_type").asText(), rules.toArray(new Rule[0]),
        pattern == null || pattern.isNull() ? null : Pattern.compile(pattern.asText()));
  }

  /** Enum values as the converted values of a field of {@code type} compare to them. */
  private static List<Object> enumValues(JsonNode values, String type) {
    List<Object> converted = new ArrayList<>();
    for (JsonNode value : values) {
      converted.add(switch (type) {
        case "string" -> value.asText();
        case "int" -> value.asInt();
        case "bigint" -> value.asLong();
        case "decimal" -> value.decimalValue().stripTrailingZeros();
        default -> throw new IllegalArgumentException("an enum on a " + type + " field is not supported");
      });
    }
    return converted;
  }

  private static List<Integer> integers(JsonNode values) {
    List<Integer> out = new ArrayList<>();
    for (JsonNode value : values) {
      out.add(value.asInt());
    }
    return List.copyOf(out);
  }
}
