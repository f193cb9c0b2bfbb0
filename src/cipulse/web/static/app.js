// cipulse dashboard: charts from the JSON beside each chart, the custom date range,
// copy buttons. No inline scripts: the Content-Security-Policy allows only this file.
(function () {
  "use strict";

  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
  var STATUS = {
    success: "--success", failure: "--failure", timed_out: "--timed_out",
    cancelled: "--cancelled", skipped: "--skipped", running: "--running",
    queued: "--queued", pending: "--pending"
  };
  var PALETTE = ["#3b82f6", "#e8590c", "#2da44e", "#9b6dd6", "#d93f3f", "#0ea5a4",
    "#c2410c", "#64748b", "#db2777", "#65a30d", "#7c3aed", "#0891b2"];

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 10) return (Math.round(seconds * 10) / 10) + "s";
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h >= 48) return (h / 24).toFixed(1) + "d";
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    return s + "s";
  }

  function formatter(unit) {
    if (unit === "seconds") return duration;
    if (unit === "ratio") return function (v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; };
    // Durations come in one unit per chart (s, min, h, d): ticks are round numbers of it.
    if (["s", "min", "h", "d"].indexOf(unit) >= 0) {
      return function (v) {
        if (v === null || v === undefined) return "—";
        return v.toLocaleString(undefined, { maximumFractionDigits: Math.abs(v) < 10 ? 1 : 0 }) + " " + unit;
      };
    }
    return function (v) { return v === null || v === undefined ? "—" : (Math.round(v * 100) / 100).toLocaleString(); };
  }

  function label(iso) {
    var hourly = iso.slice(11, 16) !== "00:00";
    return hourly ? iso.slice(11, 16) : iso.slice(5, 10);
  }

  // The buckets still under way (today, this hour): shaded and labelled "so far", their
  // bars paler, so a half-empty bucket does not read as a drop.
  function partialArea(spec, muted) {
    var marked = (spec.partial || []).map(function (p, i) { return p ? i : -1; })
      .filter(function (i) { return i >= 0; });
    if (!marked.length) return null;
    return {
      silent: true,
      itemStyle: { color: "rgba(127, 127, 127, 0.14)" },
      label: { show: true, position: "insideTop", color: muted, formatter: "so far" },
      data: [[{ xAxis: marked[0] }, { xAxis: marked[marked.length - 1] }]]
    };
  }

  function paler(values, partial) {
    if (!partial) return values;
    return values.map(function (v, i) {
      return partial[i] ? { value: v, itemStyle: { opacity: 0.45 } } : v;
    });
  }

  function options(spec) {
    var fmt = formatter(spec.unit);
    var text = css("--text"), muted = css("--muted"), border = css("--border");
    var area = partialArea(spec, muted);
    var series = spec.series.map(function (s, i) {
      var color = s.status ? css(STATUS[s.status] || "--cancelled") : PALETTE[i % PALETTE.length];
      var bars = spec.kind === "stacked" || spec.kind === "bar";
      var base = { name: s.name, data: bars ? paler(s.values, spec.partial) : s.values, itemStyle: { color: color }, emphasis: { focus: "series" } };
      if (i === 0 && area) base.markArea = area;
      if (spec.kind === "stacked") return Object.assign(base, { type: "bar", stack: "all", barMaxWidth: 24 });
      if (spec.kind === "bar") return Object.assign(base, { type: "bar", barMaxWidth: 24 });
      return Object.assign(base, { type: "line", showSymbol: spec.x.length < 40, connectNulls: false, lineStyle: { width: 2 } });
    });
    return {
      animation: false,
      grid: { left: 8, right: 12, top: 30, bottom: 4, containLabel: true },
      legend: { top: 0, left: 0, textStyle: { color: muted }, itemWidth: 12, itemHeight: 8 },
      tooltip: {
        trigger: "axis",
        valueFormatter: fmt,
        backgroundColor: css("--panel"), borderColor: border, textStyle: { color: text }
      },
      xAxis: {
        // A chart by hour of day (``axis``) labels its x as it is, not as a time.
        type: "category", data: spec.axis ? spec.x : spec.x.map(label),
        axisLine: { lineStyle: { color: border } }, axisLabel: { color: muted }, axisTick: { show: false }
      },
      yAxis: {
        type: "value", min: spec.unit === "ratio" ? function (v) { return Math.max(0, Math.floor(v.min * 10) / 10); } : 0,
        max: spec.unit === "ratio" ? 1 : null,
        axisLabel: { color: muted, formatter: fmt }, splitLine: { lineStyle: { color: border } }
      },
      series: series
    };
  }

  var charts = [];

  function drawCharts() {
    if (!window.echarts) return;
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(options(spec));
      charts.push(chart);
    });
  }

  // Filters apply when their form is submitted (its Apply button, or Enter), never on a
  // select's change: a keyboard user moving through options with the arrow keys would
  // otherwise load a page per option (WCAG 3.2.2, "On Input"). Choosing "Custom…" only
  // shows the date fields.
  function setUpFilters() {
    document.querySelectorAll("form[data-filters]").forEach(function (form) {
      var range = form.querySelector("[data-range]");
      var dates = form.querySelector("[data-dates]");
      if (!range || !dates) return;
      range.addEventListener("change", function () {
        var custom = range.value === "custom";
        dates.hidden = !custom;
        dates.querySelectorAll("input").forEach(function (input) { input.disabled = !custom; });
      });
    });
  }

  function setUpCopy() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.textContent).then(done, function () { select(source); });
        } else {
          select(source);
          try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
        }
      });
    });
  }

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpFilters();
    setUpCopy();
    drawCharts();
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    if (dark && dark.addEventListener) dark.addEventListener("change", drawCharts);
  });
})();
