#!/usr/bin/env node
// A foreign OPC UA server for interoperability tests of `twin deploy`: node-opcua
// serving the quadruple tank (Johansson 2000, P- setting) with a simple base layer.
//
//   node server.js --port 4841 --pki DIR [--speed 8] [--tick-ms 25] [--allow-none]
//   env TWIN_USERS="apc:secret,operator:other"   (user:password pairs)
//
// Address space (namespace 1):
//   QuadrupleTank.h1 .. h4           levels [cm], read-only; historized (HistoryRead, raw:
//                                    the value of every tick, the last 100000, in memory)
//   QuadrupleTank.Heartbeat          server counter, +1 per tick
//   QuadrupleTank.ApcHeartbeat       written by the APC every cycle
//   QuadrupleTank.<mv>.Mode          "MANUAL" | "AUTO" | "CASCADE" (operator writes)
//   QuadrupleTank.<mv>.RSP           remote setpoint [V], used only in CASCADE
//   QuadrupleTank.<mv>.SP            working setpoint [V], read-only
//   QuadrupleTank.<mv>.PV            pump voltage applied [V], read-only
// Base layer: in CASCADE the setpoint follows RSP; in AUTO it holds; in MANUAL the
// pump holds its last output. When the APC heartbeat has not changed for
// --watchdog-ms while a loop is in CASCADE (counted from the switch to CASCADE at
// the latest), every such loop falls back to AUTO at its last setpoint. Prints "CERT <path>" and "READY" once listening on 127.0.0.1.
"use strict";
const path = require("path");
const fs = require("fs");
const {
    OPCUAServer, OPCUACertificateManager, SecurityPolicy, MessageSecurityMode,
    DataType, Variant, DataValue, StatusCodes, UserTokenType, makeRoles, WellKnownRoles
} = require("node-opcua");

function option(name, fallback) {
    const i = process.argv.indexOf("--" + name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const PORT = parseInt(option("port", "4841"), 10);
const PKI = path.resolve(option("pki", "./pki"));
const SPEED = parseFloat(option("speed", "1"));
const TICK_MS = parseInt(option("tick-ms", "25"), 10);
const WATCHDOG_MS = parseInt(option("watchdog-ms", "2000"), 10);
const ALLOW_NONE = process.argv.includes("--allow-none");
const USERS = new Map((process.env.TWIN_USERS || "").split(",").filter((s) => s.includes(":"))
    .map((s) => [s.slice(0, s.indexOf(":")), s.slice(s.indexOf(":") + 1)]));

// Johansson (2000), P- setting: areas [cm2], outlets [cm2], pump gains [cm3/(V s)].
const P = { A: [28, 32, 28, 32], a: [0.071, 0.057, 0.071, 0.057], g: 981,
            k1: 3.33, k2: 3.35, gamma1: 0.70, gamma2: 0.60 };

function rhs(h, v1, v2) {
    const q = h.map((hi, i) => P.a[i] * Math.sqrt(2 * P.g * Math.abs(hi)));
    return [
        (-q[0] + q[2] + P.gamma1 * P.k1 * v1) / P.A[0],
        (-q[1] + q[3] + P.gamma2 * P.k2 * v2) / P.A[1],
        (-q[2] + (1 - P.gamma2) * P.k2 * v2) / P.A[2],
        (-q[3] + (1 - P.gamma1) * P.k1 * v1) / P.A[3],
    ];
}

function rk4(h, v1, v2, dt) {
    const add = (x, k, s) => x.map((xi, i) => xi + s * k[i]);
    const k1 = rhs(h, v1, v2), k2 = rhs(add(h, k1, dt / 2), v1, v2);
    const k3 = rhs(add(h, k2, dt / 2), v1, v2), k4 = rhs(add(h, k3, dt), v1, v2);
    return h.map((hi, i) => hi + dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
}

function steadyState(v1, v2) {
    // Outflow of each tank balances its inflows: q = a sqrt(2 g h).
    const level = (q, a) => (q / a) ** 2 / (2 * P.g);
    const q3 = (1 - P.gamma2) * P.k2 * v2, q4 = (1 - P.gamma1) * P.k1 * v1;
    return [level(P.gamma1 * P.k1 * v1 + q3, P.a[0]), level(P.gamma2 * P.k2 * v2 + q4, P.a[1]),
            level(q3, P.a[2]), level(q4, P.a[3])];
}

async function main() {
    fs.mkdirSync(PKI, { recursive: true });
    const serverCertificateManager = new OPCUACertificateManager({
        rootFolder: path.join(PKI, "server"),
        automaticallyAcceptUnknownCertificate: true, // identity comes from user and password
        disableFileWatchers: true
    });
    const userCertificateManager = new OPCUACertificateManager({
        rootFolder: path.join(PKI, "user"),
        automaticallyAcceptUnknownCertificate: false,
        disableFileWatchers: true
    });
    const policies = [SecurityPolicy.Basic256Sha256].concat(ALLOW_NONE ? [SecurityPolicy.None] : []);
    const modes = [MessageSecurityMode.SignAndEncrypt].concat(ALLOW_NONE ? [MessageSecurityMode.None] : []);
    const server = new OPCUAServer({
        port: PORT,
        host: "127.0.0.1",
        hostname: "127.0.0.1",
        alternateHostname: ["127.0.0.1", "localhost"],
        resourcePath: "/twin",
        securityPolicies: policies,
        securityModes: modes,
        allowAnonymous: false,
        serverCertificateManager,
        userCertificateManager,
        serverInfo: { applicationUri: "urn:process-twin:node-opcua-tank",
                      productUri: "urn:process-twin:node-opcua-tank",
                      applicationName: { text: "node-opcua quadruple tank", locale: "en" } },
        buildInfo: { productName: "node-opcua quadruple tank", buildNumber: "1" },
        userManager: {
            isValidUser: (user, password) => USERS.has(user) && USERS.get(user) === password,
            getUserRoles: () => makeRoles([WellKnownRoles.AuthenticatedUser, WellKnownRoles.Operator])
        }
    });
    await server.initialize();
    for (const endpoint of server.endpoints) {  // user names only, no X509 user tokens
        for (const d of endpoint.endpointDescriptions()) {
            d.userIdentityTokens = (d.userIdentityTokens || [])
                .filter((t) => t.tokenType === UserTokenType.UserName);
        }
    }

    const state = { h: steadyState(3.0, 3.0), heartbeat: 0, apc: 0, apcChanged: Date.now(),
                    loops: { v1: { mode: "AUTO", rsp: 3.0, sp: 3.0, out: 3.0 },
                             v2: { mode: "AUTO", rsp: 3.0, sp: 3.0, out: 3.0 } } };
    const addressSpace = server.engine.addressSpace;
    const ns = addressSpace.getOwnNamespace();
    const plant = ns.addObject({ organizedBy: addressSpace.rootFolder.objects,
                                 browseName: "QuadrupleTank", nodeId: "s=QuadrupleTank" });
    const good = (type, value) => new DataValue({
        value: new Variant({ dataType: type, value }), statusCode: StatusCodes.Good,
        sourceTimestamp: new Date(), serverTimestamp: new Date() });

    function variable(parent, prefix, name, type, get, set) {
        const access = set ? "CurrentRead | CurrentWrite" : "CurrentRead";
        const value = { timestamped_get: () => good(DataType[type], get()) };
        if (set) value.set = (variant) => set(variant.value);
        return ns.addVariable({ componentOf: parent, browseName: name,
                                nodeId: `s=${prefix}.${name}`,
                                dataType: type, accessLevel: access, userAccessLevel: access,
                                minimumSamplingInterval: TICK_MS, value });
    }
    const levels = ["h1", "h2", "h3", "h4"].map((name, i) => variable(plant, "QuadrupleTank", name, "Double", () => state.h[i]));
    for (const node of levels) {
        addressSpace.installHistoricalDataNode(node, { maxOnlineValues: 100000 });
    }
    variable(plant, "QuadrupleTank", "Heartbeat", "UInt32", () => state.heartbeat);
    variable(plant, "QuadrupleTank", "ApcHeartbeat", "UInt32", () => state.apc, (v) => {
        if (v !== state.apc) { state.apc = v; state.apcChanged = Date.now(); }
        return StatusCodes.Good;
    });
    for (const mv of ["v1", "v2"]) {
        const loop = state.loops[mv];
        const obj = ns.addObject({ componentOf: plant, browseName: mv, nodeId: `s=QuadrupleTank.${mv}` });
        variable(obj, `QuadrupleTank.${mv}`, "Mode", "String", () => loop.mode, (v) => {
            if (!["MANUAL", "AUTO", "CASCADE"].includes(v)) return StatusCodes.BadOutOfRange;
            if (v === "CASCADE" && loop.mode !== "CASCADE") {
                loop.rsp = loop.sp;            // bumpless
                state.apcChanged = Date.now(); // the APC has --watchdog-ms to take over
            }
            loop.mode = v;
            return StatusCodes.Good;
        });
        variable(obj, `QuadrupleTank.${mv}`, "RSP", "Double", () => loop.rsp, (v) => {
            if (!(Number.isFinite(v) && v >= 0 && v <= 10)) return StatusCodes.BadOutOfRange;
            loop.rsp = v;
            return StatusCodes.Good;
        });
        variable(obj, `QuadrupleTank.${mv}`, "SP", "Double", () => loop.sp);
        variable(obj, `QuadrupleTank.${mv}`, "PV", "Double", () => loop.out);
    }

    const substeps = 5, dt = SPEED * TICK_MS / 1000 / substeps;  // plant seconds
    const timer = setInterval(() => {
        state.heartbeat = (state.heartbeat + 1) >>> 0;
        const stalled = Date.now() - state.apcChanged > WATCHDOG_MS;
        for (const loop of Object.values(state.loops)) {
            if (loop.mode === "CASCADE" && stalled) loop.mode = "AUTO";
            if (loop.mode === "CASCADE") loop.sp = loop.rsp;
            if (loop.mode !== "MANUAL") loop.out = loop.sp;
        }
        for (let i = 0; i < substeps; i++) {
            state.h = rk4(state.h, state.loops.v1.out, state.loops.v2.out, dt);
        }
        levels.forEach((node, i) => node._historyPush(good(DataType.Double, state.h[i])));
    }, TICK_MS);

    await server.start();
    console.log("CERT " + server.certificateFile);
    console.log("READY");
    const stop = async () => {
        clearInterval(timer);
        await server.shutdown(200);
        process.exit(0);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

main().catch((err) => { console.error("node-opcua server failed: " + err.message); process.exit(1); });
