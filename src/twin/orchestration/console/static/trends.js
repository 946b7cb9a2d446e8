"use strict";
// Trends: one uPlot chart per CV and MV, from the cycle store's history, with the
// controller's prediction over the horizon drawn ahead of "now" and the audit trail's
// applied changes as vertical marks.
const MAX_POINTS = 20000;
const STYLE = {
  value: {stroke: "#1f6feb", width: 1.5}, setpoint: {stroke: "#2da44e", width: 1.5, dash: [6, 3]},
  low: {stroke: "#cf222e", width: 1}, high: {stroke: "#cf222e", width: 1},
  target: {stroke: "#8250df", width: 1, dash: [2, 3]},
  prediction: {stroke: "#1f6feb", width: 1.5, dash: [4, 4]},
};

class Trends {
  constructor(el, info) {
    this.el = el;
    this.info = info;
    this.h = {cycles: [], time: [], wall_time: [], series: {}};
    this.prediction = {};
    this.charts = {};
    this.marks = [];
    this.follow = true;
    this.range = null;
  }

  replace(history) {
    this.h = {cycles: [], time: [], wall_time: [], series: {}};
    this.append(history);
  }

  append(history) {
    const h = this.h;
    const last = h.cycles.length ? h.cycles[h.cycles.length - 1] : -1;
    const n0 = h.cycles.length;
    history.cycles.forEach((c, i) => {
      if (c <= last) return;
      h.cycles.push(c); h.time.push(history.time[i]); h.wall_time.push(history.wall_time[i]);
    });
    const added = h.cycles.length - n0;
    const skip = history.cycles.length - added;
    for (const key of new Set([...Object.keys(h.series), ...Object.keys(history.series)])) {
      const column = h.series[key] || (h.series[key] = new Array(n0).fill(null));
      const fresh = history.series[key];
      for (let i = 0; i < added; i++) column.push(fresh ? fresh[skip + i] : null);
    }
    if (h.cycles.length > MAX_POINTS) {
      const cut = h.cycles.length - MAX_POINTS;
      for (const k of ["cycles", "time", "wall_time"]) h[k].splice(0, cut);
      for (const k of Object.keys(h.series)) h.series[k].splice(0, cut);
    }
    if (history.prediction && Object.keys(history.prediction).length) this.prediction = history.prediction;
    return added;
  }

  lastCycle() { return this.h.cycles.length ? this.h.cycles[this.h.cycles.length - 1] : -1; }

  data(name) {
    const h = this.h, n = h.time.length;
    const pred = this.prediction[name] || [];
    const dt = this.info.sample_time || 0;
    const future = n && dt ? pred.slice(1).map((_, k) => h.time[n - 1] + (k + 1) * dt) : [];
    const x = h.time.concat(future);
    const pad = (col) => (col || new Array(n).fill(null)).concat(new Array(future.length).fill(null));
    const ahead = new Array(n).fill(null).concat(pred.slice(1));
    if (n && pred.length) ahead[n - 1] = pred[0];
    return [x, pad(h.series[name]), pad(h.series[`${name}.setpoint`]), pad(h.series[`${name}.low`]),
            pad(h.series[`${name}.high`]), pad(h.series[`${name}.target`]), ahead];
  }

  chart(name) {
    if (this.charts[name]) return this.charts[name];
    const box = document.createElement("div");
    box.className = "chart";
    box.id = `trend-${name}`;
    this.el.append(box);
    const self = this;
    const opts = {
      title: name, width: 460, height: 220,
      scales: {x: {time: false}},
      axes: [{}, {size: 70}],
      series: [{label: `t [${this.info.time_unit}]`}, {label: name, ...STYLE.value},
               {label: "setpoint", ...STYLE.setpoint}, {label: "low", ...STYLE.low},
               {label: "high", ...STYLE.high}, {label: "target", ...STYLE.target},
               {label: "prediction", ...STYLE.prediction}],
      cursor: {drag: {x: true, y: false}},
      hooks: {
        setSelect: [() => { self.follow = false; self.range = null; }],
        draw: [(u) => self.drawMarks(u)],
      },
    };
    const chart = new uPlot(opts, this.data(name), box);
    chart.over.addEventListener("dblclick", () => { this.follow = true; this.range = null; this.redraw(); });
    this.charts[name] = chart;
    return chart;
  }

  drawMarks(u) {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#bf8700";
    ctx.fillStyle = "#bf8700";
    ctx.setLineDash([3, 3]);
    ctx.font = "10px sans-serif";
    for (const m of this.marks) {
      if (m.t < u.scales.x.min || m.t > u.scales.x.max) continue;
      const x = u.valToPos(m.t, "x", true);
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      ctx.fillText(m.label, x + 3, u.bbox.top + 10);
    }
    ctx.restore();
  }

  pan(fraction) {
    const any = Object.values(this.charts)[0];
    if (!any) return;
    const {min, max} = any.scales.x;
    const shift = (max - min) * fraction;
    this.follow = false;
    this.range = [min + shift, max + shift];
    this.redraw();
  }

  redraw() {
    for (const name of [...this.info.cv, ...this.info.mv]) {
      const chart = this.chart(name);
      if (this.follow) { chart.setData(this.data(name), true); continue; }
      const r = this.range || [chart.scales.x.min, chart.scales.x.max];
      chart.setData(this.data(name), false);
      chart.setScale("x", {min: r[0], max: r[1]});
    }
  }
}
