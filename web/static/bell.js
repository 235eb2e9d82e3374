// The unread bell for other applications' pages:
//   <script src="https://CONSOLE/static/bell.js" data-recipient="zhang.san" data-token="TOKEN" async></script>
// puts a link with the unread count where the script tag is, refreshed every 30 s.
(function () {
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var recipient = encodeURIComponent(script.dataset.recipient || "");
  var token = encodeURIComponent(script.dataset.token || "");
  var link = document.createElement("a");
  link.href = base + "/inbox/" + recipient + "?token=" + token;
  link.className = "msgpool-bell";
  link.textContent = "🔔";
  var badge = document.createElement("span");
  badge.style.cssText = "display:inline-block;min-width:1.2em;padding:0 .35em;border-radius:999px;background:#b91c1c;color:#fff;font:12px/1.5 sans-serif;text-align:center;margin-left:2px";
  link.appendChild(badge);
  script.parentNode.insertBefore(link, script);
  function refresh() {
    fetch(base + "/api/inbox/" + recipient + "/unread-count?token=" + token)
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        badge.textContent = String(body.unread);
        badge.style.background = body.unread > 0 ? "#b91c1c" : "#9aa5b1";
      })
      .catch(function () {});
  }
  refresh();
  setInterval(refresh, 30000);
})();
