// Members and roles: add (creating the user when the email is new), change a role, remove.
import { del, patch, post, tenantPath } from "../api.js";
import { action, badge, errorSlot, field, fmt, h, onSubmit, section, text } from "../dom.js";
import { ROLES, can, currentUser } from "../roles.js";
import { pagedTable } from "./paged.js";

const ROLE_HELP = {
  owner: "everything, including deleting the tenant and managing owners",
  admin: "everything but owners, deleting the tenant and credits",
  member: "reads the tenant (not provider keys) and manages their own keys",
  viewer: "reads everything but provider keys",
};

export async function membersView(root, { tenantId }) {
  const canWrite = can(tenantId, "users", "write");
  const roles = ROLES.filter((r) => r !== "owner" || can(tenantId, "users:owner", "write"));
  const listErrors = errorSlot();
  const list = h("div");
  const me = currentUser();

  const roleCell = (m) => {
    if (!canWrite || m.user_id === me?.id || (m.role === "owner" && !roles.includes("owner"))) return badge(m.role);
    const select = h("select", { "aria-label": `Role of ${m.email}` }, roles.map((r) => h("option", { value: r, selected: r === m.role }, r)));
    const save = action("Change role", listErrors, async () => {
      await patch(tenantPath(tenantId, "members", m.user_id), { role: select.value });
      await table.reload();
    }, { aria: `Change role of ${m.email}` });
    return h("div", { class: "inline" }, select, save);
  };

  const table = pagedTable(list, tenantPath(tenantId, "members"), {
    caption: "Members",
    empty: "No members yet.",
    next: canWrite ? "Add the first one below." : null,
    columns: [
      { label: "Email", cell: (m) => h("span", null, m.email, m.user_id === me?.id ? badge("you") : null) },
      { label: "Name", cell: (m) => m.name || "—" },
      { label: "Role", cell: roleCell },
      { label: "Status", cell: (m) => (m.disabled ? badge("disabled", "bad") : badge("active", "ok")) },
      { label: "Added", cell: (m) => fmt.date(m.created_at) },
      ...(canWrite ? [{
        label: "Actions",
        cell: (m) => (m.user_id === me?.id || (m.role === "owner" && !roles.includes("owner")) ? "" : action("Remove", listErrors, async () => {
          await del(tenantPath(tenantId, "members", m.user_id));
          await table.reload();
        }, { cls: "danger", aria: `Remove ${m.email}`, confirmText: `Remove ${m.email} from this tenant? Their keys stop working.` })),
      }] : []),
    ],
  });

  root.append(
    h("h1", null, "Members"),
    h("p", { class: "muted" }, "Roles: ", ROLES.map((r, i) => [i ? " · " : "", h("strong", null, r), ` — ${ROLE_HELP[r]}`])),
    listErrors,
    list,
  );

  if (canWrite) {
    const errors = errorSlot();
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "add-member", autocomplete: "off" },
      h("h2", { id: "add-member" }, "Add a member"),
      h("div", { class: "grid" },
        field("Email", { name: "email", type: "email", required: true }),
        field("Role", { name: "role", value: "member" }, roles.map((r) => [r, r])),
        field("Name (optional)", { name: "name" }),
        field("Initial password", { name: "password", type: "password", autocomplete: "new-password", hint: "Only for a new user; an existing user keeps theirs." }),
      ),
      errors,
      h("button", { type: "submit" }, "Add member"),
    );
    onSubmit(form, errors, async (data) => {
      const body = { email: text(data, "email"), role: data.get("role") };
      if (text(data, "name")) body.name = text(data, "name");
      if (data.get("password")) body.password = data.get("password");
      form.elements.password.value = "";
      await post(tenantPath(tenantId, "members"), body);
      form.reset();
      await table.reload();
    });
    root.append(form);
  }
  await section(list, () => table.reload(), "Members");
}
