// Loaded after require.js and before the ipywidgets HTML manager (see nb_ipywidgets_js in _config.yml).
(function () {
  // 1. The manager loads its fonts and chunks relative to its own module path: point that path at
  //    the copy this site serves in _static/widgets/, so nothing is fetched from a CDN.
  var here = document.currentScript.src;
  var widgets = here.slice(0, here.lastIndexOf("/"));
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": widgets } });

  // 2. The manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the site runs
  //    MathJax 3 (loaded with defer, so present by DOMContentLoaded). Map that call to MathJax 3.
  document.addEventListener("DOMContentLoaded", function () {
    if (window.MathJax && !window.MathJax.Hub) {
      window.MathJax.Hub = {
        Queue: function (job) {
          MathJax.startup.promise.then(function () { return MathJax.typesetPromise([job[2]]); });
        },
      };
    }
  });
})();
