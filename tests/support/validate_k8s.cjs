// Validates Kubernetes objects (JSON on stdin: a List, or objects one after another as printed by
// `kubectl annotate --local -o json -f`, each ending with a "}" line) against the Kubernetes JSON schemas shipped by the
// npm package kubernetes-models (module path from KUBERNETES_MODELS). Known kinds are checked
// field by field (types, required fields, enums as the schema gives them); kinds it does not ship
// in a non-built-in group (CRDs such as cert-manager's Certificate) are reported as "not
// validated" and fail only when STRICT=1; an unknown kind in a built-in group is invalid. Prints one line per object; exit 1 when any object is invalid.
const path = require("path");
const root = path.resolve(process.env.KUBERNETES_MODELS);
const items = [];
let chunk = [];
for (const line of require("fs").readFileSync(0, "utf8").split("\n")) {
  chunk.push(line);
  if (line === "}") {
    const obj = JSON.parse(chunk.join("\n"));
    chunk = [];
    if (obj.kind === "List") items.push(...obj.items);
    else items.push(obj);
  }
}
if (chunk.join("").trim() !== "") throw new Error("trailing input that is not a JSON object");
if (items.length === 0) throw new Error("no objects on stdin");
let bad = 0, unchecked = 0;
for (const obj of items) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
  const dir = group ? `${group}/${version}` : version;
  const name = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
  let Model;
  try {
    Model = require(path.join(root, dir, obj.kind + ".js"))[obj.kind];
  } catch (e) {
    Model = undefined;
  }
  if (!Model) {
    // A built-in group (core, apps, *.k8s.io) must have a schema: missing means a typo'd kind.
    const builtin = !group || !group.includes(".") || group.endsWith(".k8s.io");
    console.log(`${builtin ? "INVALID (unknown built-in kind)" : "not validated (no schema)"}: ${obj.apiVersion} ${name}`);
    if (builtin) bad++;
    else unchecked++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`valid: ${obj.apiVersion} ${name}`);
  } catch (e) {
    console.log(`INVALID: ${obj.apiVersion} ${name}: ${e.message}`);
    bad++;
  }
}
console.log(`${items.length} objects, ${bad} invalid, ${unchecked} without schema`);
process.exit(bad > 0 || (process.env.STRICT === "1" && unchecked > 0) ? 1 : 0);
