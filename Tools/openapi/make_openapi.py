"""Writes Sources/MotionServer/Resources/openapi.json, the server's OpenAPI 3.1 document.

The document is kept in the repository (the server serves the committed file; MotionServerTests checks
its paths and methods against the router). Edit this script and rerun it when a route or field changes:
    python3 Tools/openapi/make_openapi.py
"""
import os
import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
err = {"description": "error", "content": {"application/json": {"schema": ref("Error")}}}
def errors(*codes):
    names = {"400":"the body is not valid JSON","401":"missing or wrong API key (when the server has one)","404":"no such model","413":"the body is larger than the server's byte limit, or the prompt is longer than the model takes","422":"a field of the wrong type, unknown, null, missing, out of range or above the server's limits","501":"not available in this build","503":"the queue is full or the request ran past its time limit (Retry-After)","500":"model fault"}
    return {c: {"description": names[c], "content": {"application/json": {"schema": ref("Error")}}} for c in codes}
sampling = {
  "seed": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615, "description": "sampling seed (same seed, same answer)"},
  "temperature": {"type": "number", "minimum": 0.01, "maximum": 100, "description": "turns sampling on"},
  "top_k": {"type": "integer", "minimum": 0, "maximum": 1000000},
  "top_p": {"type": "number", "minimum": 0.0001, "maximum": 1},
  "repetition_penalty": {"type": "number", "minimum": 0.01, "maximum": 100},
  "greedy": {"type": "boolean"},
  "max_tokens": {"type": "integer", "minimum": 2, "maximum": 256, "description": "a motion answer needs its start token and a code"},
  "model": {"type": "string", "description": "name of a loaded model (GET /v1/models)"},
  "stream": {"type": "boolean", "description": "answer as server-sent events: progress per token, then result or error"},
}
formats = {"bvh": {"type": "boolean", "description": "add the motion as BVH text"}, "gif": {"type": "boolean", "description": "add an animated GIF (base64)"}, "codes": {"type": "boolean", "description": "add the motion codes (default true)"}}
motion_in = {"description": "joints (metres, y up, 20 fps, 22 HumanML3D joints, at least 4 frames) or the text of a BVH file (retargeted to the 22 joints, resampled to 20 fps; a text that is not a BVH file is refused with 422)",
  "oneOf": [
    {"type": "object", "additionalProperties": False, "required": ["joints"], "properties": {
       "joints": {"type": "array", "minItems": 4, "maxItems": 2000, "items": {"type": "array", "minItems": 22, "maxItems": 22,
                  "items": {"type": "array", "items": {"type": "number", "minimum": -1000000, "maximum": 1000000}, "minItems": 3, "maxItems": 3}}},
       "fps": {"type": "number", "enum": [20]}, "skeleton": {"type": "string", "enum": ["humanml3d"]}}},
    {"type": "object", "additionalProperties": False, "required": ["bvh"], "properties": {"bvh": {"type": "string", "pattern": "^HIERARCHY"}}}]}
motion_out = {"type": "object", "required": ["fps", "frames", "skeleton", "joint_names", "parents", "sides", "joints"], "properties": {
  "fps": {"type": "number"}, "frames": {"type": "integer"}, "skeleton": {"type": "string"},
  "joint_names": {"type": "array", "items": {"type": "string"}}, "parents": {"type": "array", "items": {"type": "integer"}},
  "sides": {"type": "array", "items": {"type": "integer", "enum": [0, 1, 2]}},
  "joints": {"type": "array", "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}},
  "codes": {"type": "array", "items": {"type": "integer"}}, "bvh": {"type": "string"}, "gif": {"type": "string", "contentEncoding": "base64"}}}
sampler = {"type": "object", "required": ["do_sample", "seed", "temperature", "top_k", "top_p", "repetition_penalty", "max_tokens"], "properties": {
  "do_sample": {"type": "boolean"}, "seed": {"type": "integer"}, "temperature": {"type": "number"}, "top_k": {"type": "integer"}, "top_p": {"type": "number"},
  "repetition_penalty": {"type": "number"}, "max_tokens": {"type": "integer"}}}
schemas = {
  "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
  "MotionInput": motion_in, "Motion": motion_out, "Sampler": sampler,
  "GenerateRequest": {"type": "object", "additionalProperties": False, "required": ["text"], "not": {"required": ["seconds", "frames"]}, "description": "seconds or frames, not both", "properties": {
     "text": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "seconds": {"type": "number", "minimum": 0.2, "maximum": 10, "description": "at least one motion token (4 frames at 20 fps)"},
     "frames": {"type": "integer", "minimum": 4, "maximum": 200}, "score": {"type": "boolean", "description": "add the evaluator's text-motion cosine"}, **formats, **sampling}},
  "GenerateResponse": {"type": "object", "required": ["model", "text", "motion", "sampler", "tokens", "unterminated"], "properties": {
     "model": {"type": "string"}, "text": {"type": "string"}, "motion": ref("Motion"), "sampler": ref("Sampler"), "tokens": {"type": "integer"}, "unterminated": {"type": "boolean"}, "score": {"type": "number"}}},
  "CaptionRequest": {"type": "object", "additionalProperties": False, "required": ["motion"], "properties": {"motion": ref("MotionInput"), **sampling}},
  "CaptionResponse": {"type": "object", "required": ["model", "text", "sampler"], "properties": {"model": {"type": "string"}, "text": {"type": "string"}, "sampler": ref("Sampler")}},
  "PredictRequest": {"type": "object", "additionalProperties": False, "required": ["motion"], "properties": {"motion": ref("MotionInput"), **formats, **sampling}},
  "InbetweenRequest": {"type": "object", "additionalProperties": False, "required": ["first", "second"], "properties": {"first": ref("MotionInput"), "second": ref("MotionInput"),
     "frames": {"type": "integer", "minimum": 4, "maximum": 200, "description": "frames to fill (default 40)"}, **formats, **sampling}},
  "MotionTaskResponse": {"type": "object", "required": ["model", "motion", "sampler", "tokens", "unterminated"], "properties": {
     "model": {"type": "string"}, "motion": ref("Motion"), "sampler": ref("Sampler"), "tokens": {"type": "integer"}, "unterminated": {"type": "boolean"}}},
  "EditRequest": {"type": "object", "additionalProperties": False, "required": ["motion", "parts", "text"], "properties": {"motion": ref("MotionInput"),
     "parts": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["root", "head", "stem", "larm", "rarm", "lleg", "rleg", "lhand", "rhand", "face", "upper", "lower", "body"]}},
     "text": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "model": {"type": "string"}, "seed": sampling["seed"],
     "steps": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "DDIM steps (default 50, the official schedule)"},
     "guidance": {"type": "number", "minimum": -1000, "maximum": 1000, "description": "classifier-free guidance scale (default: the model's; 0 or less: none)"},
     "bvh": formats["bvh"], "gif": formats["gif"]}},
  "EditResponse": {"type": "object", "required": ["model", "motion", "parts", "steps", "seed"], "properties": {
     "model": {"type": "string"}, "motion": ref("Motion"), "parts": {"type": "array", "items": {"type": "string"}, "description": "the parts regenerated (groups expanded)"},
     "steps": {"type": "integer"}, "seed": {"type": "integer"}}},
  "ChatMessage": {"type": "object", "additionalProperties": False, "required": ["role", "content"], "properties": {
     "role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S", "description": "<motion> stands for the next of motions; motions without placeholders follow the text"},
     "motions": {"type": "array", "items": ref("MotionInput")}}},
  "ChatRequest": {"type": "object", "additionalProperties": False, "required": ["messages"], "properties": {"messages": {"type": "array", "minItems": 1, "maxItems": 32, "items": ref("ChatMessage"), "description": "the last user message is the instruction (MotionGPT is single-turn; with no user message, the last message)"}, **formats, **sampling}},
  "ChatResponse": {"type": "object", "required": ["model", "text", "motions", "sampler", "tokens"], "properties": {"model": {"type": "string"}, "text": {"type": "string"},
     "motions": {"type": "array", "items": ref("Motion")}, "sampler": ref("Sampler"), "tokens": {"type": "integer"}}},
  "EmbedRequest": {"type": "object", "additionalProperties": False, "required": ["texts"], "properties": {"texts": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}}, "model": {"type": "string"}}},
  "EmbedResponse": {"type": "object", "required": ["model", "dimension", "vectors", "truncated"], "properties": {"model": {"type": "string"}, "dimension": {"type": "integer"},
     "vectors": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}, "truncated": {"type": "array", "items": {"type": "boolean"}}}},
  "ModelsResponse": {"type": "object", "required": ["models", "part_editing"], "properties": {"part_editing": {"type": "boolean"}, "models": {"type": "array", "items": {"type": "object",
     "required": ["name", "model_type", "role", "summary", "path"], "properties": {k: {"type": "string"} for k in ["name", "model_type", "role", "summary", "path"]}}}}},
  "Health": {"type": "object", "required": ["status", "queue_depth", "max_queue"], "properties": {"status": {"type": "string"}, "queue_depth": {"type": "integer"}, "max_queue": {"type": "integer"}}},
}
# greedy: true with a sampling field is a contradiction the server refuses.
greedy_conflict = {"not": {"required": ["greedy"], "properties": {"greedy": {"const": True}},
                           "anyOf": [{"required": ["temperature"]}, {"required": ["top_k"]}, {"required": ["top_p"]}]}}
for name in ["GenerateRequest", "CaptionRequest", "PredictRequest", "InbetweenRequest", "ChatRequest"]:
    schemas[name]["allOf"] = [greedy_conflict]

def post(summary, req, resp, extra=(), stream=True):
    content = {"application/json": {"schema": ref(resp)}}
    if stream:
        # OpenAPI 3.1: the schema of an event stream describes one event. Its data is JSON: progress
        # {step, max_tokens}, then result (the JSON answer) or error {error, status}.
        content["text/event-stream"] = {"schema": {"type": "object", "required": ["data"], "properties": {
            "event": {"type": "string", "enum": ["progress", "result", "error"]},
            "data": {"type": "string", "contentMediaType": "application/json"}}}}
    codes = ["400", "401", "404", "413", "422", "500", "503"] + list(extra)
    return {"post": {"summary": summary, "operationId": summary.split()[0].lower() + "_" + req.lower(), "requestBody": {"required": True, "content": {"application/json": {"schema": ref(req)}}},
            "responses": {"200": {"description": "the answer", "content": content}, **errors(*codes)}}}
def get(summary, schema, ctype="application/json", op=None):
    c = {ctype: {"schema": ref(schema) if schema else {"type": "string"}}}
    return {"get": {"summary": summary, "operationId": op, "responses": {"200": {"description": "ok", "content": c}, **errors("401")}}}
doc = {"openapi": "3.1.0", "info": {"title": "motiongpt-server", "version": "0.2.0", "description": "MotionGPT over HTTP. Every error is {\"error\": message}. With an API key configured, /v1 routes need Authorization: Bearer <key>."},
  "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
  "paths": {
    "/": get("the playground page", None, "text/html", "playground"),
    "/health": get("liveness and queue depth", "Health", op="health"),
    "/metrics": get("Prometheus metrics", None, "text/plain", "metrics"),
    "/openapi.json": {"get": {"summary": "this document", "operationId": "openapi", "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/v1/models": get("loaded models", "ModelsResponse", op="models"),
    "/v1/generate": post("Generate a motion from text", "GenerateRequest", "GenerateResponse"),
    "/v1/caption": post("Caption a motion", "CaptionRequest", "CaptionResponse"),
    "/v1/predict": post("Predict the continuation of a motion", "PredictRequest", "MotionTaskResponse"),
    "/v1/inbetween": post("Inbetween two motions", "InbetweenRequest", "MotionTaskResponse"),
    "/v1/edit": post("Edit body parts of a motion (needs a Large Motion Model: 501 when none is loaded)", "EditRequest", "EditResponse", extra=["501"], stream=False),
    "/v1/chat": post("Chat: free instructions, motions inline", "ChatRequest", "ChatResponse"),
    "/v1/embed": post("Embed sentences", "EmbedRequest", "EmbedResponse", stream=False),
  }}
for p, ops in doc["paths"].items():
    if p.startswith("/v1"):
        for op in ops.values(): op["security"] = [{}, {"bearer": []}]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Sources", "MotionServer", "Resources", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
