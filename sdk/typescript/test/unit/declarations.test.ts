// Declarations without a control plane: sessions, reasoners, the registration body.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Agent, SessionTransportError } from "@agentfield/sdk";

const VOICE = {
  provider: "openai",
  model: "gpt-realtime-2",
  transport: "webrtc",
  modalities: ["audio", "text"],
  voice: "marin",
  tools: ["support.resolveVoiceTurn"],
  tags: ["support:voice", "pii:limited"],
};

describe("Agent options", () => {
  it("takes server and apiKey from AGENTFIELD_SERVER and AGENTFIELD_API_KEY", () => {
    const saved = { ...process.env };
    try {
      process.env.AGENTFIELD_SERVER = "http://127.0.0.1:9/";
      process.env.AGENTFIELD_API_KEY = "af_from_env";
      const agent = new Agent({ nodeId: "n1" });
      assert.equal(agent.server, "http://127.0.0.1:9");
      assert.equal(agent.port, 0);
      assert.equal(agent.host, "127.0.0.1");
      const explicit = new Agent({ nodeId: "n1", server: "http://127.0.0.1:7", apiKey: "k" });
      assert.equal(explicit.server, "http://127.0.0.1:7");
      delete process.env.AGENTFIELD_SERVER;
      assert.equal(new Agent({ nodeId: "n1" }).server, "http://127.0.0.1:8000");
    } finally {
      process.env = saved;
    }
  });

  it("refuses node and target names with dots, and duplicate targets", () => {
    assert.throws(() => new Agent({ nodeId: "a.b" }), {
      message: "node name 'a.b' is invalid: it must be non-empty and have no dots",
    });
    const agent = new Agent({ nodeId: "support" });
    agent.reasoner("lookup", () => ({}));
    assert.throws(() => agent.skill("lookup", () => ({})), {
      message: "support already declares a target 'lookup'",
    });
    assert.throws(() => agent.reasoner("", () => ({})), /reasoner name '' is invalid/);
  });
});

describe("agent.session", () => {
  it("is chainable and registers the definition the control plane stores", () => {
    const agent = new Agent({ nodeId: "voice-support-af" });
    const returned = agent.session("voice", VOICE, async (session) => {
      await session.input();
    });
    assert.equal(returned, agent);
    assert.deepEqual(agent.sessionDefinitions(), [
      {
        name: "voice",
        provider: "openai",
        transport: "webrtc",
        media: "relay",
        model: "gpt-realtime-2",
        modalities: ["audio", "text"],
        voice: "marin",
        tools: ["support.resolveVoiceTurn"],
        tags: ["pii:limited", "support:voice"],
        proposed_tags: ["pii:limited", "support:voice"],
        metadata: {},
        turn_detection: {
          type: "server_vad",
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 500,
          create_response: true,
          interrupt_response: true,
        },
        instructions: "",
        handler: true,
        approved_tags: [],
      },
    ]);
  });

  it("validates provider and transport at declaration with the control plane's text", () => {
    const agent = new Agent({ nodeId: "n" });
    assert.throws(
      () => agent.session("v", { provider: "openrouter", transport: "webrtc" }, async () => {}),
      (error: unknown) =>
        error instanceof SessionTransportError &&
        error.name === "SessionTransportError" &&
        error.provider === "openrouter" &&
        error.message ===
          "Unsupported session transport 'webrtc' for provider 'openrouter'. Supported " +
            "transports: audio_turns. AgentField does not infer or switch providers; set " +
            "provider and transport explicitly.",
    );
    assert.throws(() => agent.session("v", { provider: "custom", transport: "webrtc" }), {
      message:
        "Unknown session provider 'custom'. Known providers: openai, openrouter. Register " +
        "provider capabilities before using a custom session provider.",
    });
    assert.equal(agent.sessionDefinitions().length, 0);
    agent.session("v", { provider: "OpenAI", transport: "Web-RTC".replace("-", "") });
    assert.deepEqual(
      agent.sessionDefinitions().map((d) => [d.provider, d.transport, d.handler]),
      [["openai", "webrtc", false]],
    );
  });

  it("takes turnDetection (camelCase or snake_case fields) and refuses bad ones", () => {
    const agent = new Agent({ nodeId: "n" });
    agent.session("a", {
      provider: "openai",
      transport: "websocket",
      turnDetection: { type: "server_vad", silenceDurationMs: 0, create_response: false },
    });
    agent.session("b", {
      provider: "openai",
      transport: "webrtc",
      turnDetection: { type: "semantic_vad", eagerness: "high" },
    });
    const [a, b] = agent.sessionDefinitions();
    assert.deepEqual(a.turn_detection, {
      type: "server_vad",
      threshold: 0.5,
      prefix_padding_ms: 300,
      silence_duration_ms: 0,
      create_response: false,
      interrupt_response: true,
    });
    assert.deepEqual(b.turn_detection, {
      type: "semantic_vad",
      eagerness: "high",
      create_response: true,
      interrupt_response: true,
    });
    assert.throws(
      () =>
        agent.session("c", {
          provider: "openrouter",
          transport: "audio_turns",
          turnDetection: { type: "server_vad" },
        }),
      { message: "turn_detection requires provider=openai and transport=webrtc or websocket" },
    );
    assert.throws(
      () =>
        agent.session("d", {
          provider: "openai",
          transport: "webrtc",
          turnDetection: { type: "x" },
        }),
      { message: "turn_detection.type must be server_vad or semantic_vad" },
    );
  });

  it("takes media (relay by default, webrtc only) and refuses what the control plane does", () => {
    const agent = new Agent({ nodeId: "n" });
    agent.session("call", { provider: "openai", transport: "webrtc", media: " Direct " });
    agent.session("chat", { provider: "openai", transport: "websocket", media: "relay" });
    assert.deepEqual(
      agent.sessionDefinitions().map((d) => [d.name, d.media]),
      [
        ["call", "direct"],
        ["chat", ""],
      ],
    );
    assert.throws(
      () => agent.session("x", { provider: "openai", transport: "webrtc", media: "p2p" }),
      {
        message:
          "Unknown session media 'p2p'. Known media: direct, relay. AgentField does not infer " +
          "media; set media explicitly.",
      },
    );
    assert.throws(
      () => agent.session("y", { provider: "openai", transport: "websocket", media: "direct" }),
      {
        message:
          "Session media applies to transport 'webrtc' only; transport 'websocket' always " +
          "carries its media through the control plane. Leave media out or set it to relay.",
      },
    );
    assert.equal(agent.sessionDefinitions().length, 2);
  });

  it("refuses a second session of the same name", () => {
    const agent = new Agent({ nodeId: "n" }).session("v", VOICE);
    assert.throws(() => agent.session("v", VOICE), { message: "n already declares a session 'v'" });
  });
});

describe("registrationPayload", () => {
  it("is the Python SDK's body: sessions at the top and in metadata.custom", () => {
    const agent = new Agent({ nodeId: "voice-support-af", tags: ["team"], version: "2.0.0" })
      .session("voice", VOICE, async () => {})
      .session("typed", { provider: "openai", transport: "websocket" })
      .reasoner("resolveVoiceTurn", ({ input }) => input, { tags: ["support"], description: "d" })
      .skill("ping", () => "pong");
    const body = agent.registrationPayload();
    assert.deepEqual(Object.keys(body), [
      "id",
      "team_id",
      "base_url",
      "version",
      "instance_id",
      "proposed_tags",
      "reasoners",
      "skills",
      "sessions",
      "communication_config",
      "metadata",
    ]);
    assert.equal(body.id, "voice-support-af");
    assert.equal(body.team_id, "default");
    assert.equal(body.version, "2.0.0");
    assert.match(String(body.instance_id), /^[0-9a-f]{32}$/);
    assert.deepEqual(body.proposed_tags, ["team"]);
    assert.deepEqual(body.reasoners, [
      {
        id: "resolveVoiceTurn",
        description: "d",
        tags: ["support"],
        proposed_tags: ["support"],
        input_schema: { type: "object" },
        output_schema: {},
      },
    ]);
    assert.deepEqual(
      (body.skills as Array<{ id: string }>).map((s) => s.id),
      ["ping"],
    );
    assert.deepEqual(body.communication_config, {
      protocols: ["http", "websocket"],
      heartbeat_interval: "10s",
    });
    const custom = (body.metadata as { custom: Record<string, unknown> }).custom;
    assert.deepEqual(custom.sessions, body.sessions);
    assert.deepEqual(custom.sdk, { language: "typescript", name: "@agentfield/sdk" });
    const handlers = (body.sessions as Array<{ name: string; handler: boolean }>).map((s) => [
      s.name,
      s.handler,
    ]);
    assert.deepEqual(handlers, [
      ["voice", true],
      ["typed", false],
    ]);
    const modelDriven = new Agent({ nodeId: "m" }).session("v", VOICE).registrationPayload();
    assert.deepEqual((modelDriven.communication_config as { protocols: string[] }).protocols, [
      "http",
    ]);
  });
});
