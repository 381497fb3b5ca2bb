// The cashier page's live part: a countdown to expiry, and the order's
// state from the server's event stream, shown without a reload. Without
// this script the page still works: it reloads itself (<noscript> refresh).
(function () {
  "use strict";
  var main = document.getElementById("cashier");
  if (!main || !main.dataset.events) {
    return;
  }
  var status = document.getElementById("status");
  var countdown = document.getElementById("countdown");
  var expires = Date.parse(main.dataset.expires);
  // The server's clock, not the phone's: a phone set wrong must not show
  // a code as valid (or expired) when it is not.
  var skew = Date.parse(main.dataset.now) - Date.now();
  var messages = {
    pending: status.dataset.msgPending,
    paid: status.dataset.msgPaid,
    refunded: status.dataset.msgRefunded,
    closed: status.dataset.msgClosed,
    expired: status.dataset.msgExpired
  };

  function setState(state) {
    if (!messages[state] || main.dataset.state === state) {
      return;
    }
    if (state === "pending" && main.dataset.state === "expired") {
      return; // the countdown ran out a moment before the server's clock did
    }
    main.dataset.state = state;
    status.textContent = messages[state];
    if (state === "paid") {
      var back = document.querySelector("#return a");
      if (back) {
        back.focus();
      }
    }
  }

  // The wallet the order was paid with, once paid: the stream names it
  // (an order either wallet could pay is decided by the payment).
  var wallet = document.getElementById("wallet");
  function setWallet(name) {
    if (!wallet || !name || main.dataset.wallet === name) {
      return;
    }
    var msg = name === "alipay" ? wallet.dataset.msgAlipay : name === "wechat" ? wallet.dataset.msgWechat : "";
    if (!msg) {
      return;
    }
    main.dataset.wallet = name;
    wallet.textContent = msg;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  var timer = null;
  function tick() {
    var left = Math.max(0, Math.floor((expires - (Date.now() + skew)) / 1000));
    var h = Math.floor(left / 3600), m = Math.floor(left / 60) % 60, s = left % 60;
    countdown.textContent = h > 0 ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
    if (left === 0) {
      if (main.dataset.state === "pending") {
        setState("expired");
      }
      clearInterval(timer);
    }
  }
  if (countdown && !isNaN(expires)) {
    tick();
    timer = setInterval(tick, 1000);
  }

  if (main.dataset.settled === "true" || typeof EventSource === "undefined") {
    return;
  }
  var delay = 1000;
  var source = null;
  function connect() {
    source = new EventSource(main.dataset.events);
    source.addEventListener("status", function (e) {
      var s;
      try {
        s = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      delay = 1000;
      if ((s.has_qr && main.dataset.hasQr !== "true") || s.codes > Number(main.dataset.codes || 0)) {
        window.location.reload(); // a code exists now that the page lacks: draw it
        return;
      }
      setWallet(s.wallet);
      setState(s.state);
      if (s.final) {
        source.close();
      }
    });
    source.addEventListener("error", function () {
      // A stream that ended is reopened by the browser itself; one refused
      // (503 while a node drains, a restart) is closed for good, so open a
      // new one, backing off.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      }
    });
  }
  connect();
}());
