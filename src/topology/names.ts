// The one set of rules for names and hosts that reach rule comments, file names, ssh_config
// tokens and remote shells: the topology schema, the transport's validators and the lab all use
// these, so `validate` accepts exactly what `apply` will send.

/** Site, network, gateway, forward and lab names: 1-63 ASCII letters, digits, `_ . -`, starting alphanumeric. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Linux interface names (IFNAMSIZ: at most 15 bytes), starting with a letter. */
export const IFNAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;

/** SSH host names and aliases: no leading or trailing `-`/`.`/`_` (a leading `-` reads as an option). */
export const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

/** IPv6 literals, loosely (only the characters; ssh parses them). */
export const IPV6_RE = /^[0-9A-Fa-f:.]{2,45}$/;

/** Login user names (POSIX portable, no leading `-`, at most 32 chars). */
export const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

/** Whether a value is a host natchain may hand to SSH (a name, an alias, an IPv4 or IPv6 literal). */
export function isSafeHost(value: string): boolean {
  return HOST_RE.test(value) || (value.includes(':') && IPV6_RE.test(value));
}
