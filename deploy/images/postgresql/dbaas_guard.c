/*
 * dbaas_guard: the customer's roles stay inside their databases.
 *
 * The customer's admin role has CREATEROLE. On PostgreSQL 15 that alone lets it grant itself
 * pg_execute_server_program (COPY ... FROM PROGRAM runs as the OS user) and alter or drop any
 * non-superuser role, the service's own included. Loaded through shared_preload_libraries,
 * this hook refuses, for every role that is not a superuser:
 *   - memberships in the predefined roles that reach the server's files, programs or network
 *     (GRANT, CREATE ROLE ... IN ROLE, ALTER GROUP ... ADD USER);
 *   - creating, altering, renaming, dropping, granting to or from, and reassigning the objects
 *     of the service's reserved roles (names starting with "_rdb", any case).
 * PostgreSQL 16+ already needs ADMIN OPTION for the first; the hook keeps one behaviour on
 * every version. Superusers (the control plane) are never restricted.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static ProcessUtility_hook_type previous_hook = NULL;

static const char *const forbidden_memberships[] = {
	"pg_execute_server_program",
	"pg_read_server_files",
	"pg_write_server_files",
	"pg_create_subscription",
	NULL,
};

static bool
is_reserved(const char *name)
{
	return name != NULL && pg_strncasecmp(name, "_rdb", 4) == 0;
}

static bool
is_forbidden_membership(const char *name)
{
	const char *const *f;

	if (name == NULL)
		return false;
	for (f = forbidden_memberships; *f != NULL; f++)
		if (strcmp(name, *f) == 0)
			return true;
	return is_reserved(name);
}

/* The role a RoleSpec names; NULL for PUBLIC. */
static const char *
spec_name(RoleSpec *spec)
{
	switch (spec->roletype)
	{
		case ROLESPEC_CSTRING:
			return spec->rolename;
		case ROLESPEC_PUBLIC:
			return NULL;
		case ROLESPEC_SESSION_USER:
			return GetUserNameFromId(GetSessionUserId(), false);
		default:				/* CURRENT_USER, CURRENT_ROLE */
			return GetUserNameFromId(GetUserId(), false);
	}
}

static void
refuse_reserved(const char *name, const char *action)
{
	if (is_reserved(name))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s role \"%s\"", action, name),
				 errdetail("Roles whose names start with \"_rdb\" belong to the managed service.")));
}

static void
refuse_membership(const char *name)
{
	if (is_forbidden_membership(name))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to grant membership in role \"%s\"", name),
				 errdetail("This role reaches the server's files, programs or network, or belongs to the managed service.")));
}

static void
refuse_reserved_specs(List *specs, const char *action)
{
	ListCell   *lc;

	foreach(lc, specs)
		refuse_reserved(spec_name(lfirst_node(RoleSpec, lc)), action);
}

static void
check_create_role(CreateRoleStmt *stmt)
{
	ListCell   *lc;

	refuse_reserved(stmt->role, "create");
	foreach(lc, stmt->options)
	{
		DefElem    *option = lfirst_node(DefElem, lc);
		ListCell   *m;

		if (strcmp(option->defname, "addroleto") == 0)	/* IN ROLE / IN GROUP */
			foreach(m, (List *) option->arg)
				refuse_membership(spec_name(lfirst_node(RoleSpec, m)));
		else if (strcmp(option->defname, "rolemembers") == 0 ||
				 strcmp(option->defname, "adminmembers") == 0)
			refuse_reserved_specs((List *) option->arg, "grant to");
	}
}

static void
check_alter_role(AlterRoleStmt *stmt)
{
	const char *name = spec_name(stmt->role);
	ListCell   *lc;

	refuse_reserved(name, "alter");
	foreach(lc, stmt->options)
	{
		DefElem    *option = lfirst_node(DefElem, lc);

		if (strcmp(option->defname, "rolemembers") == 0)	/* ALTER GROUP ... ADD/DROP USER */
		{
			refuse_membership(name);
			refuse_reserved_specs((List *) option->arg, "change the memberships of");
		}
	}
}

static void
check_grant_role(GrantRoleStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->granted_roles)
	{
		AccessPriv *granted = lfirst_node(AccessPriv, lc);

		if (stmt->is_grant)
			refuse_membership(granted->priv_name);
		else
			refuse_reserved(granted->priv_name, "revoke");
	}
	refuse_reserved_specs(stmt->grantee_roles, "change the memberships of");
}

static void
check_statement(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_CreateRoleStmt:
			check_create_role((CreateRoleStmt *) parsetree);
			break;
		case T_AlterRoleStmt:
			check_alter_role((AlterRoleStmt *) parsetree);
			break;
		case T_AlterRoleSetStmt:
			{
				AlterRoleSetStmt *stmt = (AlterRoleSetStmt *) parsetree;

				if (stmt->role != NULL)
					refuse_reserved(spec_name(stmt->role), "alter");
				break;
			}
		case T_DropRoleStmt:
			refuse_reserved_specs(((DropRoleStmt *) parsetree)->roles, "drop");
			break;
		case T_GrantRoleStmt:
			check_grant_role((GrantRoleStmt *) parsetree);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType == OBJECT_ROLE)
				{
					refuse_reserved(stmt->subname, "rename");
					refuse_reserved(stmt->newname, "rename to");
				}
				break;
			}
		case T_ReassignOwnedStmt:
			{
				ReassignOwnedStmt *stmt = (ReassignOwnedStmt *) parsetree;

				refuse_reserved_specs(stmt->roles, "reassign the objects of");
				refuse_reserved(spec_name(stmt->newrole), "reassign objects to");
				break;
			}
		case T_DropOwnedStmt:
			refuse_reserved_specs(((DropOwnedStmt *) parsetree)->roles, "drop the objects of");
			break;
		default:
			break;
	}
}

static void
guard_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			  ProcessUtilityContext context, ParamListInfo params,
			  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (!superuser())
		check_statement(pstmt->utilityStmt);
	if (previous_hook)
		previous_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
								dest, qc);
}

void
_PG_init(void)
{
	previous_hook = ProcessUtility_hook;
	ProcessUtility_hook = guard_utility;
}
