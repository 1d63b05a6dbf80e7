// odoo-agi softphone: SIP.js (vendor/sip.js, pinned) over the page's own
// /sip WebSocket, which odoo-agi relays to Asterisk as this user's endpoint
// only. Media goes straight to Asterisk (DTLS-SRTP).
import { UserAgent, Web } from "./vendor/sip.js";

const $ = (id) => document.getElementById(id);
const csrf = () => document.querySelector('meta[name="csrf"]')?.content || "";
const box = $("softphone");
const store = {
  get: (k, d) => localStorage.getItem("odoo-agi-" + k) ?? d,
  set: (k, v) => localStorage.setItem("odoo-agi-" + k, v),
};

let sm = null, cfg = null, current = null, incoming = false, ringer = null;
const state = { registered: false, muted: false, held: false };

function status(s, text) {
  box.dataset.state = s;
  $("sp-status").textContent = text;
}

function hint(text) { $("sp-hint").textContent = text; }

function show(ids, on) { for (const id of ids) $(id).hidden = !on; }

function progress(text, cls) {
  const p = $("progress");
  if (!p) return;
  p.className = "progress " + (cls || "wait");
  p.textContent = text;
}

// ring plays a two-tone ring with WebAudio while a call rings here.
function ring(on) {
  if (!on) { ringer?.stop(); ringer = null; return; }
  try {
    const ctx = new AudioContext();
    if (ctx.state === "suspended") hint("Click anywhere on the page once to let it ring aloud.");
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    for (const f of [440, 480]) {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start();
    }
    let t = ctx.currentTime;
    for (let i = 0; i < 30; i++, t += 6) { // 2 s on, 4 s off, for 3 minutes
      gain.gain.setValueAtTime(0.15, t);
      gain.gain.setValueAtTime(0, t + 2);
    }
    ringer = { stop: () => ctx.close() };
  } catch { /* no audio: the card and the notification still show */ }
}

function who(session) {
  const id = session.remoteIdentity;
  const num = id?.uri?.user || "";
  return { name: id?.displayName || "", num };
}

function render(session, label) {
  const w = who(session);
  $("sp-who").textContent = w.name || w.num;
  $("sp-meta").textContent = [w.name ? w.num : "", label].filter(Boolean).join(" · ");
}

function idle() {
  current = null; incoming = false;
  state.muted = state.held = false;
  ring(false);
  $("sp-call").hidden = true;
  $("sp-keypad").hidden = $("sp-transfer").hidden = true;
  for (const id of ["sp-mute", "sp-hold"]) $(id).setAttribute("aria-pressed", "false");
}

function inCall(session) {
  ring(false);
  show(["sp-answer", "sp-decline"], false);
  show(["sp-hangup", "sp-mute", "sp-hold", "sp-keys"], true);
  $("sp-transfer").hidden = false;
  render(session, "in call");
  progress("In call", "ok");
}

function micConstraints() {
  const id = store.get("mic", "");
  return { audio: id ? { deviceId: { exact: id } } : true, video: false };
}

function target(dial) {
  const n = String(dial).replace(/[^0-9+*#]/g, "");
  return n ? `sip:${n}@${cfg.domain}` : "";
}

// dialable asks odoo-agi how the PBX dials what was typed, as click-to-dial
// would dial it.
async function dialable(number) {
  const r = await fetch("/sip/dial?number=" + encodeURIComponent(number), { headers: { "X-CSRF-Token": csrf() } });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(out.error || "not a number");
  return out.dial;
}

// call places a call from this browser; app.js hands it tel: links, the
// dial box and recent calls while "Ring here" is chosen.
async function call(number) {
  if (!sm || !state.registered) throw new Error("the softphone is not registered");
  if (current) throw new Error("hang up the current call first");
  const uri = target(await dialable(number));
  if (!uri) throw new Error("not a number");
  incoming = false;
  $("sp-call").hidden = false;
  show(["sp-answer", "sp-decline", "sp-mute", "sp-hold", "sp-keys"], false);
  show(["sp-hangup"], true);
  $("sp-who").textContent = number;
  $("sp-meta").textContent = "calling…";
  progress("Calling " + number + "…");
  current = await sm.call(uri, { sessionDescriptionHandlerOptions: { constraints: micConstraints() } });
}

// stats reads the current call's audio counters (getStats), for a quality
// check by hand or by a test: bytes received and sent.
async function stats() {
  const pc = current?.sessionDescriptionHandler?.peerConnection;
  const out = { received: 0, sent: 0, connected: false };
  if (!pc) return out;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") out.received += r.bytesReceived || 0;
    if (r.type === "outbound-rtp" && r.kind === "audio") out.sent += r.bytesSent || 0;
    if (r.type === "transport") out.connected = r.dtlsState === "connected";
  });
  return out;
}

// dtmf sends a key as RFC 4733 events in the RTP. insertDTMF replaces the
// tones still queued, so a key pressed while another plays is appended.
function dtmf(key) {
  const pc = current?.sessionDescriptionHandler?.peerConnection;
  const sender = pc?.getSenders().find((s) => s.dtmf);
  if (!sender?.dtmf?.canInsertDTMF) { hint("This call takes no keypad tones."); return; }
  sender.dtmf.insertDTMF(sender.dtmf.toneBuffer + key, 100, 70);
}

async function devices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const list = await navigator.mediaDevices.enumerateDevices();
  for (const [sel, kind] of [["sp-mic", "audioinput"], ["sp-speaker", "audiooutput"]]) {
    const el = $(sel), chosen = store.get(sel === "sp-mic" ? "mic" : "speaker", "");
    el.replaceChildren(new Option("default", ""));
    for (const d of list.filter((d) => d.kind === kind && d.deviceId && d.deviceId !== "default")) {
      el.append(new Option(d.label || d.deviceId.slice(0, 8), d.deviceId, false, d.deviceId === chosen));
    }
  }
  const audio = $("sp-audio");
  if (audio.setSinkId) audio.setSinkId(store.get("speaker", "")).catch(() => {});
  else $("sp-speaker").disabled = true;
}

function notify(session) {
  if (!("Notification" in window) || Notification.permission !== "granted" || document.hasFocus()) return;
  const w = who(session);
  const n = new Notification(w.name || w.num, { body: "Calling you — click to answer", tag: "sp-ring", icon: "/static/icon.svg", requireInteraction: true });
  n.onclick = () => { window.focus(); answer(); n.close(); };
  session.stateChange.addListener((s) => { if (s !== "Initial" && s !== "Establishing") n.close(); });
}

async function answer() {
  if (!current || !incoming) return;
  await sm.answer(current, { sessionDescriptionHandlerOptions: { constraints: micConstraints() } });
}

function wire() {
  $("sp-answer").addEventListener("click", () => answer().catch((e) => hint("Could not answer: " + e.message)));
  $("sp-decline").addEventListener("click", () => current && sm.decline(current));
  $("sp-hangup").addEventListener("click", () => current && sm.hangup(current).catch(() => {}));
  $("sp-mute").addEventListener("click", () => {
    if (!current) return;
    state.muted = !state.muted;
    state.muted ? sm.mute(current) : sm.unmute(current);
    $("sp-mute").setAttribute("aria-pressed", String(state.muted));
  });
  $("sp-hold").addEventListener("click", async () => {
    if (!current) return;
    state.held = !state.held;
    $("sp-hold").setAttribute("aria-pressed", String(state.held));
    await (state.held ? sm.hold(current) : sm.unhold(current)).catch((e) => hint("Hold failed: " + e.message));
    render(current, state.held ? "on hold" : "in call");
  });
  $("sp-keys").addEventListener("click", () => {
    const k = $("sp-keypad");
    k.hidden = !k.hidden;
    $("sp-keys").setAttribute("aria-expanded", String(!k.hidden));
  });
  $("sp-keypad").addEventListener("click", (ev) => {
    const key = ev.target.dataset?.key;
    if (key && current) dtmf(key);
  });
  $("sp-transfer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const to = ev.target.elements.to.value.trim();
    if (!current) return;
    try {
      await sm.transfer(current, target(await dialable(to)));
      hint("Transferred to " + to + ".");
    } catch (e) {
      hint("Transfer failed: " + e.message);
    }
  });
  const mode = $("sp-mode");
  mode.value = store.get("ring", "here");
  store.set("ring", mode.value); // tells a tel: link's tab that this browser has a softphone
  mode.addEventListener("change", () => store.set("ring", mode.value));
  $("sp-mic").addEventListener("change", (ev) => store.set("mic", ev.target.value));
  $("sp-speaker").addEventListener("change", (ev) => {
    store.set("speaker", ev.target.value);
    $("sp-audio").setSinkId?.(ev.target.value).catch(() => {});
  });
}

async function start() {
  wire();
  const r = await fetch("/sip/config", { headers: { "X-CSRF-Token": csrf() } });
  if (!r.ok) { status("offline", "Off"); hint((await r.json().catch(() => ({}))).error || "No softphone."); return; }
  cfg = await r.json();
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    status("offline", "No microphone");
    hint("Browsers give a page the microphone only over HTTPS or on localhost: ask your admin to serve this page over HTTPS.");
    return;
  }
  const aor = `sip:${cfg.endpoint}@${cfg.domain}`;
  const server = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/sip";
  sm = new Web.SessionManager(server, {
    aor,
    media: { constraints: { audio: true, video: false }, remote: { audio: $("sp-audio") } },
    sendDTMFUsingSessionDescriptionHandler: true, // RFC 4733 in the RTP, as Asterisk's dtmf_mode = rfc4733
    reconnectionAttempts: 1000,
    reconnectionDelay: 4,
    registrationRetry: true,
    maxSimultaneousSessions: 1,
    userAgentOptions: {
      uri: UserAgent.makeURI(aor),
      authorizationUsername: cfg.endpoint,
      authorizationPassword: cfg.secret,
      logLevel: "warn",
      sessionDescriptionHandlerFactoryOptions: { iceGatheringTimeout: 500, peerConnectionConfiguration: { iceServers: [] } },
    },
    delegate: {
      onServerConnect: () => status("connected", "Registering…"),
      onServerDisconnect: () => { state.registered = false; status("offline", "Offline, reconnecting…"); },
      onRegistered: () => { state.registered = true; mark("registered"); status("registered", "Ready"); },
      onUnregistered: () => { state.registered = false; status("offline", "Not registered"); },
      onCallCreated: (session) => { current = session; },
      onCallReceived: (session) => {
        if (current && current !== session) { sm.decline(session); return; }
        current = session; incoming = true;
        $("sp-call").hidden = false;
        show(["sp-answer", "sp-decline"], true);
        show(["sp-hangup", "sp-mute", "sp-hold", "sp-keys"], false);
        render(session, "calling you");
        ring(true);
        notify(session);
        $("sp-answer").focus();
      },
      onCallAnswered: (session) => inCall(session),
      onCallHangup: () => { progress("Call ended", "ok"); idle(); },
    },
  });
  window.odooSoftphone = { ringHere: () => state.registered && store.get("ring", "here") === "here", call, stats, timing };
  // The microphone prompt comes now, not on the first call, while the
  // softphone registers.
  navigator.mediaDevices.getUserMedia({ audio: true, video: false }).then((s) => {
    s.getTracks().forEach((t) => t.stop());
    return devices();
  }).catch((e) => hint("The browser refused the microphone: " + e.message));
  try {
    await sm.connect();
    await sm.register();
  } catch (e) {
    status("offline", "Offline");
    hint("Could not reach the phone system: " + e.message);
  }
}

// timing: milliseconds since this page's navigation began (the sign-in's
// submit, when it led here) at each step, for the figures in the docs.
const timing = {};
const mark = (k) => { timing[k] ??= Math.round(performance.now()); };

// Another tab (a tel: link opened in a new tab) hands its call over here.
const channel = "BroadcastChannel" in window ? new BroadcastChannel("odoo-agi-softphone") : null;
channel?.addEventListener("message", (ev) => {
  if (ev.data?.type === "ping" && window.odooSoftphone?.ringHere()) channel.postMessage({ type: "pong", id: ev.data.id });
  if (ev.data?.type === "call" && window.odooSoftphone?.ringHere()) {
    call(ev.data.number).then(() => channel.postMessage({ type: "calling", id: ev.data.id }),
      (e) => channel.postMessage({ type: "failed", id: ev.data.id, error: e.message }));
  }
});

start().catch((e) => { status("offline", "Error"); hint(e.message); });
