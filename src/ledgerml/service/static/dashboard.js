// Charts of the dashboard, drawn from the page's own document (the JSON the API serves for it).
(function () {
  "use strict";
  var holder = document.getElementById("document");
  var canvas = document.getElementById("accuracy");
  if (!holder || !canvas || typeof Chart === "undefined") { return; }
  var doc = JSON.parse(holder.textContent);
  var rounds = (doc.rounds && doc.rounds.rounds) || [];
  var labels = rounds.map(function (r) { return r.round; });
  var accuracy = rounds.map(function (r) { return r.metrics.val_accuracy === undefined ? null : r.metrics.val_accuracy; });
  var rejected = rounds.map(function (r) { return r.rejected.length + r.invalid.length; });
  var committed = Math.max.apply(null, rounds.map(function (r) {
    return r.accepted.length + r.rejected.length + r.invalid.length;
  }).concat([1]));
  window.ledgermlChart = new Chart(canvas, {
    data: {
      labels: labels,
      datasets: [
        { type: "line", label: "validation accuracy", data: accuracy, yAxisID: "y", borderColor: "#2f54eb", tension: 0.2 },
        { type: "bar", label: "updates rejected or invalid", data: rejected, yAxisID: "y2", backgroundColor: "rgba(164,22,26,0.35)" }
      ]
    },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: {
        x: { title: { display: true, text: "round" } },
        y: { min: 0, max: 1, title: { display: true, text: "accuracy" } },
        y2: { position: "right", min: 0, max: committed, title: { display: true, text: "updates" }, ticks: { precision: 0 }, grid: { drawOnChartArea: false } }
      }
    }
  });
}());
