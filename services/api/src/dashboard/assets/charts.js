/* global uPlot, document, window, fetch, getComputedStyle, IntersectionObserver, ResizeObserver, URL, FileReader */
// The dashboard's charts: uPlot (served from node_modules), drawn from the JSON endpoints.
// No inline script (CSP script-src 'self'); user data only ever goes in as textContent.
'use strict';

(function () {
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();

  /** Values where a flag is set, null elsewhere: drawn as points on the value line. */
  const marks = (flags, values) => flags.map((f, i) => (f ? values[i] : null));

  const markerSeries = (label, stroke, fill, size) => ({
    label,
    stroke,
    fill,
    width: 0,
    paths: () => null,
    points: { show: true, size, stroke, fill, width: 2 },
  });

  /** One chart: value line on the left scale, score (0..1) on the right with the threshold, markers on the value. */
  function drawChart(el, series, threshold, big) {
    const height = big ? 380 : 190;
    const data = [
      series.t,
      series.value,
      series.score,
      marks(series.alert, series.value),
      marks(series.change, series.value),
      marks(series.tholdalert, series.value),
      marks(series.thumbsdown, series.value),
      series.t.map(() => threshold),
    ];
    const axis = { stroke: color('--muted'), grid: { stroke: color('--line'), width: 1 }, ticks: { stroke: color('--line'), width: 1 }, font: '11px system-ui, sans-serif' };
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      // The value in the top part, the score (0..1) in the bottom part, as in the alert email chart.
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => { const span = max - min || Math.abs(max) || 1; return [min - span * 0.75, max + span * 0.08]; } },
        score: { range: [0, 2.6] },
      },
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      axes: [
        { ...axis },
        { ...axis, size: 54 },
        { ...axis, scale: 'score', side: 1, size: 42, grid: { show: false }, stroke: color('--score'), splits: () => [0, 0.5, 1] },
      ],
      series: [
        {},
        { label: 'value', stroke: color('--value'), width: 1.6, spanGaps: false, points: { show: false } },
        { label: 'score', scale: 'score', stroke: color('--score'), fill: color('--score-fill'), width: 1, points: { show: false } },
        markerSeries('alert', color('--alert'), color('--alert'), 8),
        markerSeries('change', color('--change'), color('--change'), 8),
        markerSeries('threshold', color('--thold'), color('--thold'), 8),
        markerSeries('false alarm', color('--muted'), color('--panel'), 12),
        { label: 'alert threshold', scale: 'score', stroke: color('--score'), width: 1, dash: [4, 4], points: { show: false } },
      ],
    };
    // The detector's expected band, where it gave one: two hidden-line series filled between.
    const hasBand = Array.isArray(series.lo) && series.lo.some((v) => v !== null) && series.hi.some((v) => v !== null);
    if (hasBand) {
      data.push(series.hi, series.lo);
      const edge = { stroke: color('--band-line'), width: 0.5, points: { show: false }, spanGaps: false };
      opts.series.push({ label: 'expected high', ...edge }, { label: 'expected low', ...edge });
      opts.bands = [{ series: [data.length - 2, data.length - 1], fill: color('--band') }];
    }
    el.textContent = '';
    const chart = new uPlot(opts, data, el);
    el.dataset.band = String(hasBand);
    new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height })).observe(el);
    el.dataset.drawn = 'true';
    return chart;
  }

  const element = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  };

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    const body = await response.json();
    if (!response.ok) {
      throw new Error(body.error || `HTTP ${response.status}`);
    }
    return body;
  }

  /** The batch view: a page of charts at a time, the next one when the end comes into view. */
  function batchView(root) {
    const more = document.getElementById('more');
    const button = document.getElementById('load-more');
    let next = 0;
    let loading = false;
    async function load() {
      if (loading || next === null) {
        return;
      }
      loading = true;
      button.disabled = true;
      try {
        const url = new URL(root.dataset.src, window.location.href);
        url.searchParams.set('page', String(next));
        const body = await getJson(url);
        for (const metric of body.metrics) {
          const card = element('article', 'card chart-card');
          card.dataset.metric = metric.name;
          const title = element('div', 'card-title');
          const h = element('h3');
          const link = element('a', 'mono', metric.name);
          link.href = metric.href;
          h.append(link);
          title.append(h, element('span', metric.anomalous ? 'badge alert' : 'badge quiet', metric.anomalous ? 'anomalies' : 'quiet'));
          const chart = element('div', 'chart');
          card.append(title, chart, element('div', 'muted small', metric.summary));
          root.append(card);
          if (metric.series && metric.series.t.length > 0) {
            drawChart(chart, metric.series, body.threshold, false);
          } else {
            chart.append(element('div', 'empty', 'no points in this window'));
          }
        }
        next = body.next;
        root.dataset.loaded = String(root.querySelectorAll('.chart-card').length);
        const counts = document.getElementById('batch-counts');
        if (counts) {
          counts.textContent = `${body.total} metrics · ${body.alerting} with anomalies in ${root.dataset.window}`;
        }
        if (body.total === 0) {
          more.textContent = 'No metric has values in this window.';
        } else if (next === null) {
          more.textContent = `All ${body.total} metrics shown.`;
        }
      } catch (error) {
        more.textContent = `Could not load charts: ${error.message}`;
        next = null;
      } finally {
        loading = false;
        button.disabled = false;
      }
    }
    button.addEventListener('click', () => void load());
    new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void load(), { rootMargin: '400px' }).observe(more);
  }

  async function metricView(el) {
    try {
      const body = await getJson(el.dataset.src);
      if (body.series && body.series.t.length > 0) {
        drawChart(el, body.series, body.threshold, true);
      } else {
        el.append(element('div', 'empty', 'no points yet'));
      }
    } catch (error) {
      el.append(element('div', 'notice error', `Could not load the chart: ${error.message}`));
    }
  }

  /** The Preview page: the backtest's series come in the results' data attribute (no inline script). */
  function previewView(root) {
    const body = JSON.parse(root.dataset.preview);
    const cards = root.querySelectorAll('.preview-card');
    body.metrics.forEach((metric, i) => {
      const chart = cards[i] && cards[i].querySelector('.chart');
      if (chart && metric.series.t.length > 0) {
        drawChart(chart, metric.series, body.threshold, false);
      }
    });
    root.dataset.drawn = String(root.querySelectorAll('.chart[data-drawn]').length);
  }

  /** An uploaded CSV goes into the form's text field, which the POST carries. */
  function previewUpload(input, target) {
    input.addEventListener('change', () => {
      const file = input.files && input.files[0];
      if (!file) {
        return;
      }
      const reader = new FileReader();
      reader.onload = () => {
        target.value = String(reader.result);
      };
      reader.readAsText(file);
    });
  }

  const preview = document.getElementById('preview-charts');
  if (preview) {
    previewView(preview);
  }
  const upload = document.getElementById('preview-file');
  const csvField = document.getElementById('preview-csv');
  if (upload && csvField) {
    previewUpload(upload, csvField);
  }
  const charts = document.getElementById('charts');
  if (charts) {
    batchView(charts);
  }
  const metric = document.getElementById('metric-chart');
  if (metric) {
    void metricView(metric);
  }
})();
