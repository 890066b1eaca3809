/**
 * bench/gen.ts: a deterministic generator of a realistic Oracle Internet Directory (OID) LDIF export, and its ground truth.
 *
 *   npm run gen -- --entries N --out FILE [--seed S] [--out-of-order F] [--truth FILE.json]
 *   (or from code: `await generate({ entries, out, seed, outOfOrder, truth })`)
 *
 * Same flags and seed give the same bytes. About 1.8 KB per record on average. `--out -` writes to stdout.
 *
 * ## What is in the file
 * `version: 1`, comments, then exactly N records (N = --entries, duplicates included):
 * - skeleton, always first and in order (8 records):
 *     dc=example,dc=com                                   objectClass domain                     -> containers
 *     cn=Users,dc=example,dc=com                          orclContainer (orclACI, folded)        -> containers
 *     cn=orcladmin,cn=Users,dc=example,dc=com             the admin user (inetOrgPerson ...)     -> users
 *     cn=Groups,dc=example,dc=com                         orclContainer (orclACI, folded)        -> containers
 *     cn=OracleContext,dc=example,dc=com                  orclContainer (orclACI, folded)        -> containers
 *     cn=Products,cn=OracleContext,dc=example,dc=com      orclContainer                          -> containers
 *     cn=Common,cn=Products,cn=OracleContext,dc=...       orclContainer                          -> containers
 *     cn=Devices,dc=example,dc=com                        orclContainer                          -> containers
 * - organizational units `ou=...` (organizationalUnit; 30% also carry orclContainer and a `cn`: two structural classes),
 *   nested in deep chains (up to depth 12 below the base), 5% with accented names (their DN and all DNs below are `dn::`);
 * - users (top, person, organizationalPerson, inetOrgPerson, orclUser, orclUserV2; ~25 attributes incl. orclGUID,
 *   orclIsEnabled, userPassword, authpassword;orclcommonpwd, authpassword;oid, operational timestamps, sometimes orclNormDN,
 *   manager (always an existing user written earlier), a folded long description, a raw UTF-8 description, a binary jpegPhoto
 *   (base64 of bytes that are not UTF-8)), under cn=Users or an OU; Portuguese names with accents as `cn::`/`sn::`/... base64,
 *   5% of them also named by the accented cn in their DN (`dn::`);
 * - groups under cn=Groups (90% groupOfUniqueNames+orclGroup with uniqueMember, 10% groupOfNames+orclGroup with member),
 *   50-120 member values when there are enough users: random users anywhere in the file (so about half are forward
 *   references), 3% of values written in another spelling (`CN=x, CN=Users,DC=Example,DC=com`), values naming accented DNs
 *   written base64 (`uniqueMember::`), `owner: cn=orcladmin,...`;
 * - Oracle-only entries: orclApplicationEntity (orclApplicationCommonName=...,cn=Products,cn=OracleContext,...),
 *   orclNetService (cn=...,cn=OracleContext,...; folded orclNetDescString), orclReferenceObject (cn=...,cn=OracleContext,...);
 * - password policies: pwdPolicy + orclPwdPolicy under cn=Common,cn=Products,cn=OracleContext,...;
 * - devices (objectClass device) under cn=Devices: the category nobody claims;
 * - duplicates: a later record for an earlier user of cn=Users, DN written `CN=<Value>, CN=Users,DC=Example,DC=com`, with a
 *   different title (the later record is the one that should win).
 * Lines longer than 76 characters are folded at 76 columns (continuation lines start with one space); folded lines are
 * always ASCII. Raw (non-base64) UTF-8 appears only in short `description` values.
 *
 * ## Ground truth (--truth FILE.json) and the exact definitions used
 * - `entries`: records written (== --entries). `uniqueEntries`: distinct normalized DNs (entries - duplicates).
 * - `categories`: per record (duplicates included, so the values sum to `entries`), by objectClass, first match wins:
 *     users      <- person, organizationalPerson, inetOrgPerson, orclUser, orclUserV2
 *     groups     <- groupOfUniqueNames, groupOfNames, orclGroup
 *     applications <- orclApplicationEntity;   services <- orclNetService;   policies <- pwdPolicy, orclPwdPolicy
 *     organizational_units <- organizationalUnit (also when orclContainer is present too)
 *     containers <- orclContainer, domain (the base)
 *     unknown    <- anything else: here `device` entries and orclReferenceObject entries (not containers).
 *   `categoriesUnique`: the same over distinct DNs (the later duplicate record counted once).
 * - `outOfOrder`: records whose parent DN (normalized) is the DN of some record in the file whose first occurrence comes later
 *   in the file. The base's parent is not in the file, so it is never out of order. Made by "late" OUs (ou=Late<k>,...,
 *   possibly chains up to 4 deep written deepest first) that are written right after the last of their children.
 *   Exactly round(F * entries) records are out of order (an error when that is more than the users can carry).
 * - `danglingReferences`: member/uniqueMember values that name no record of the file under any spelling
 *   (`cn=ghost<g>x<k>,cn=Users,dc=example,dc=com`); `danglingByEntry`: { group DN as written: count }. No other
 *   reference attribute (manager, owner) is ever dangling, and no group names an Oracle-only (excluded) entry.
 * - `forwardReferences`: member/uniqueMember/manager values naming a record whose first occurrence comes later in the file.
 * - `referenceVariants`: member/uniqueMember values naming an existing record in another spelling.
 * - `cycles`: the elementary cycles of the directed graph "group G has a member value naming group H"; each is listed as
 *   the DNs as written, starting with the one written first, in edge order (A -> B -> ... -> A). They are self-loops
 *   (a group in itself), pairs and triangles (1% of the groups, at least one of each shape from 12 groups on); other nested groups only name groups written earlier and never a cycle group,
 *   so there are no other cycles.
 * - `duplicates`: records whose normalized DN equals that of an earlier record; `duplicateList`: each with both DNs as
 *   written, the record indexes (0-based) and the line numbers of their `dn:` lines (1-based).
 * - `excluded`: records whose objectClass is Oracle-only and that `--preset oid-to-oud` drops: orclApplicationEntity,
 *   orclNetService, orclReferenceObject; `excludedByObjectClass` splits them. No other record lies below one of them.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

export interface GenOptions {
  entries: number;
  /** A path, or '-' for stdout. */
  out: string;
  seed?: number;
  /** Fraction of records written before their parent (0..1). */
  outOfOrder?: number;
  /** Where to write the ground truth JSON. */
  truth?: string;
}

export type Category =
  | 'users' | 'groups' | 'organizational_units' | 'containers' | 'applications' | 'services' | 'policies' | 'unknown';

export interface DuplicateInfo {
  dn: string;
  duplicateDn: string;
  firstIndex: number;
  firstLine: number;
  secondIndex: number;
  secondLine: number;
}

export interface Truth {
  generator: string;
  seed: number;
  outOfOrderRequested: number;
  base: string;
  entries: number;
  uniqueEntries: number;
  bytes: number;
  categories: Record<Category, number>;
  categoriesUnique: Record<Category, number>;
  outOfOrder: number;
  danglingReferences: number;
  danglingByEntry: Record<string, number>;
  forwardReferences: number;
  referenceVariants: number;
  cycles: string[][];
  duplicates: number;
  duplicateList: DuplicateInfo[];
  excluded: number;
  excludedByObjectClass: Record<string, number>;
  base64Dns: number;
  binaryValues: number;
}

// ---------------------------------------------------------------------------------------------------------------------
// PRNG and hashing

/** sfc32: small, fast, good enough; seeded deterministically. */
class Rng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9; this.b = 0x243f6a88; this.c = 0xb7e15162; this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** [0, 1) */
  next(): number { return this.u32() / 4294967296; }
  /** integer in [0, n) */
  int(n: number): number { return Math.floor(this.next() * n); }
  chance(p: number): boolean { return this.next() < p; }
}

/** A 32-bit integer hash (murmur3 finalizer) of two numbers: per-entity attributes that do not depend on order. */
function hash2(x: number, y: number): number {
  let h = (Math.imul(x ^ 0x5bd1e995, 0x85ebca6b) ^ Math.imul(y + 0x27d4eb2f, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// Name tables

const FIRST = ['João', 'José', 'Antônio', 'Francisco', 'Carlos', 'Paulo', 'Pedro', 'Lucas', 'Luiz', 'Marcos', 'Luís',
  'Gabriel', 'Rafael', 'Daniel', 'Marcelo', 'Bruno', 'Eduardo', 'Felipe', 'Raimundo', 'Rodrigo', 'Maria', 'Ana',
  'Francisca', 'Antônia', 'Adriana', 'Juliana', 'Márcia', 'Fernanda', 'Patrícia', 'Aline', 'Sandra', 'Camila', 'Amanda',
  'Bruna', 'Jéssica', 'Letícia', 'Júlia', 'Luciana', 'Vanessa', 'Mariana', 'Inês', 'Conceição', 'Gonçalo', 'Tomé',
  'Helena', 'Beatriz', 'Sérgio', 'Vinícius', 'Cláudia', 'Rita'];
const LAST = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Rodrigues', 'Ferreira', 'Alves', 'Pereira', 'Lima', 'Gomes',
  'Ribeiro', 'Carvalho', 'Araújo', 'Gonçalves', 'Simões', 'Magalhães', 'Patrício', 'Conceição', 'Loureiro', 'Brandão',
  'Falcão', 'Leitão', 'Guimarães', 'Damião', 'Cunha', 'Assunção', 'Sebastião', 'Estêvão', 'Martins', 'Costa', 'Rocha',
  'Barbosa', 'Mendes', 'Teixeira', 'Moreira', 'Nunes', 'Vieira', 'Monteiro', 'Cardoso', 'Peixoto'];
const TITLES = ['Analista de Sistemas', 'Gerente de Projetos', 'Engenheiro de Software', 'Diretor Financeiro',
  'Assistente Administrativo', 'Coordenador de Operações', 'Técnico de Suporte', 'Consultor Sênior', 'Arquiteto de Dados',
  'Contador', 'Advogado', 'Especialista em Segurança', 'Auditor Interno', 'Analista de Negócios', 'Estagiário'];
const CITIES = ['São Paulo', 'Rio de Janeiro', 'Belo Horizonte', 'Brasília', 'Curitiba', 'Porto Alegre', 'Salvador',
  'Recife', 'Fortaleza', 'Manaus', 'Goiânia', 'Belém', 'Florianópolis', 'Vitória', 'Lisboa', 'Porto', 'Coimbra'];
const STREETS = ['Rua das Flores', 'Avenida Paulista', 'Rua Augusta', 'Avenida Atlântica', 'Rua da Consolação',
  'Avenida Brasil', 'Rua do Comércio', 'Praça da Sé', 'Rua Direita', 'Avenida da Liberdade'];
const OU_NAMES = ['Vendas', 'Marketing', 'Engenharia', 'Financeiro', 'Jurídico', 'Recursos Humanos', 'Operações',
  'Suporte', 'Logística', 'Compras', 'Pesquisa', 'Qualidade', 'Auditoria', 'Tecnologia', 'Comunicação', 'Segurança'];
const OU_ASCII = ['Sales', 'Marketing', 'Engineering', 'Finance', 'Legal', 'HR', 'Operations', 'Support', 'Logistics',
  'Purchasing', 'Research', 'Quality', 'Audit', 'IT', 'Communications', 'Security', 'Americas', 'EMEA', 'APAC', 'Brazil'];
const GROUP_WORDS = ['Admins', 'Users', 'Readers', 'Writers', 'Approvers', 'Managers', 'Auditors', 'Developers', 'DBAs',
  'Operators', 'Helpdesk', 'Finance', 'Payroll', 'VPN', 'Wiki', 'Portal', 'Reports', 'Backup'];
const LOREM = ('Responsavel pelo acompanhamento das atividades do departamento, pela elaboracao de relatorios mensais, ' +
  'pela conciliacao de contas e pelo atendimento as solicitacoes das areas de negocio, conforme politica interna ' +
  'numero 42 e procedimentos de auditoria vigentes desde a migracao do diretorio corporativo para a nova plataforma.');
const RAW_DESCRIPTIONS = ['Responsável pela área de operações', 'Gestão de contratos e licitações',
  'Atendimento ao público — unidade centro', 'Coordenação técnica de projetos', 'Análise de crédito e cobrança'];

function fold(s: string): string {
  // NFD then strip combining marks: 'João' -> 'Joao'.
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}
const FIRST_ASCII = FIRST.map(fold);
const LAST_ASCII = LAST.map(fold);
const IS_ASCII = /^[\x20-\x7e]*$/;

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** An LDIF line `name: value` or `name:: base64`, folded at 76 columns. `value` must not need base64 unless `needB64`. */
function line(name: string, value: string): string {
  let l: string;
  if (IS_ASCII.test(value) && value.charCodeAt(0) !== 32 && value[0] !== ':' && value[0] !== '<' &&
      (value.length === 0 || value.charCodeAt(value.length - 1) !== 32)) l = name + ': ' + value;
  else l = name + ':: ' + b64(value);
  return foldLine(l);
}

/** A raw line (no base64 decision), folded at 76 columns. Must be ASCII. */
function foldLine(l: string): string {
  if (l.length <= 76) return l + '\n';
  let out = l.slice(0, 76) + '\n';
  for (let i = 76; i < l.length; i += 75) out += ' ' + l.slice(i, i + 75) + '\n';
  return out;
}

/** DN line: `dn: x` or `dn:: base64`. */
function dnLine(dn: string): string {
  return line('dn', dn);
}

/** Another spelling of an ASCII DN: upper-case types, capitalized values, ", " separators. */
function variantDn(dn: string): string {
  return dn.split(',').map((rdn) => {
    const eq = rdn.indexOf('=');
    const v = rdn.slice(eq + 1);
    return rdn.slice(0, eq).toUpperCase() + '=' + v.charAt(0).toUpperCase() + v.slice(1);
  }).join(', ');
}

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

/** `len` upper-case hex digits derived from `h`. */
function hex(h: number, len: number): string {
  let s = '';
  let x = h >>> 0;
  for (let i = 0; s.length < len; i++) {
    if (i % 4 === 0 && i) x = hash2(h, i);
    s += HEX2[x & 0xff];
    x >>>= 8;
  }
  return s.length > len ? s.slice(0, len) : s;
}

function ts(h: number): string {
  const y = 2005 + (h % 19);
  const mo = 1 + ((h >>> 5) % 12);
  const d = 1 + ((h >>> 9) % 28);
  const hh = (h >>> 14) % 24;
  const mm = (h >>> 19) % 60;
  const ss = (h >>> 25) % 60;
  const p = (n: number) => (n < 10 ? '0' + n : '' + n);
  return `${y}${p(mo)}${p(d)}${p(hh)}${p(mm)}${p(ss)}z`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The plan

const enum K {
  Skeleton = 0, Ou = 1, LateOu = 2, User = 3, Group = 4, App = 5, Service = 6, Ref = 7, Policy = 8, Device = 9, Dup = 10,
}

const BASE = 'dc=example,dc=com';
const USERS = 'cn=Users,' + BASE;
const GROUPS = 'cn=Groups,' + BASE;
const ORACTX = 'cn=OracleContext,' + BASE;
const PRODUCTS = 'cn=Products,' + ORACTX;
const COMMON = 'cn=Common,' + PRODUCTS;
const DEVICES = 'cn=Devices,' + BASE;
const ADMIN = 'cn=orcladmin,' + USERS;

interface OuNode {
  dn: string;
  name: string;
  depth: number;
  /** Also orclContainer with a cn. */
  both: boolean;
  ascii: boolean;
}

/** A name of a user, from its ordinal only. */
interface Person { first: string; last: string; uid: string; accentedDn: boolean; accented: boolean }

const SKELETON_SIZE = 8;

function person(seed: number, u: number): Person {
  const h = hash2(seed, u);
  const fi = h % FIRST.length;
  const li = (h >>> 8) % LAST.length;
  const uid = (FIRST_ASCII[fi][0] + LAST_ASCII[li]).toLowerCase() + u;
  const accented = FIRST[fi] !== FIRST_ASCII[fi] || LAST[li] !== LAST_ASCII[li];
  return { first: FIRST[fi], last: LAST[li], uid, accented, accentedDn: accented && (h >>> 20) % 10 === 0 };
}

function userRdn(p: Person, u: number): string {
  return p.accentedDn ? `cn=${p.first} ${p.last} ${u}` : `cn=${p.uid}`;
}

function groupName(seed: number, g: number): string {
  const h = hash2(seed ^ 0x6a09e667, g);
  if (h % 20 === 0) return `Administração ${g}`;
  return `${GROUP_WORDS[h % GROUP_WORDS.length]}-${g}`;
}

interface Plan {
  /** Records in file order. */
  kind: Uint8Array;
  /** Per record: the ordinal within its kind (skeleton index, user ordinal, group ordinal, OU index ...). */
  ord: Int32Array;
  ous: OuNode[];
  /** Per user ordinal: parent (-1 = cn=Users, else OU index). */
  userParent: Int32Array;
  userPos: Int32Array;
  groupPos: Int32Array;
  /** Duplicates: per dup ordinal, the user ordinal it repeats. */
  dupOf: number[];
  /** Group ordinal -> groups it names (cycles and nesting). */
  groupMembers: Map<number, number[]>;
  cycles: number[][];
  users: number;
  groups: number;
}

function makePlan(n: number, seed: number, f: number): Plan {
  const rng = new Rng(seed);
  if (!Number.isInteger(n) || n < 50) throw new Error(`--entries must be an integer >= 50 (got ${n})`);
  if (!(f >= 0 && f < 1)) throw new Error(`--out-of-order must be a fraction in [0, 1) (got ${f})`);
  const r = n - SKELETON_SIZE;
  const cnt = {
    ou: Math.max(3, Math.round(r * 0.02)),
    group: Math.max(2, Math.round(r * 0.02)),
    app: Math.max(1, Math.round(r * 0.004)),
    service: Math.max(1, Math.round(r * 0.004)),
    ref: Math.max(1, Math.round(r * 0.002)),
    policy: Math.max(1, Math.round(r * 0.0005)),
    device: Math.max(1, Math.round(r * 0.003)),
    dup: Math.max(1, Math.round(r * 0.001)),
  };
  // Late units: chains of OUs written after their children.
  const k = Math.round(f * n);
  const units: Array<{ depth: number; quota: number }> = [];
  let lateNodes = 0;
  let oooUsers = 0;
  for (let left = k; left > 0;) {
    let depth = 1;
    if (left >= 6 && rng.chance(0.2)) depth = 2 + rng.int(3);
    const quota = Math.min(left - (depth - 1), 1 + rng.int(200));
    units.push({ depth, quota });
    left -= depth - 1 + quota;
    lateNodes += depth;
    oooUsers += quota;
  }
  cnt.ou = Math.max(3, cnt.ou - lateNodes);
  const fixed = cnt.ou + cnt.group + cnt.app + cnt.service + cnt.ref + cnt.policy + cnt.device + cnt.dup + lateNodes;
  const users = r - fixed;
  if (users < 20 || oooUsers > users * 0.9) {
    throw new Error(`--out-of-order ${f} is too large for ${n} entries: ${k} out-of-order records need more users`);
  }

  const kind = new Uint8Array(n);
  const ord = new Int32Array(n);
  const userParent = new Int32Array(users);
  const userPos = new Int32Array(users);
  const groupPos = new Int32Array(cnt.group);
  const ous: OuNode[] = [];
  const dupOf: number[] = [];
  let pos = 0;
  for (let i = 0; i < SKELETON_SIZE; i++) { kind[pos] = K.Skeleton; ord[pos++] = i; }

  // Interleave the body kinds at random, proportionally to what is left.
  const kinds = [K.Ou, K.User, K.Group, K.App, K.Service, K.Ref, K.Policy, K.Device, K.Dup];
  const left = [cnt.ou, users, cnt.group, cnt.app, cnt.service, cnt.ref, cnt.policy, cnt.device, cnt.dup];
  let total = left.reduce((a, b) => a + b, 0);
  const ordinals = new Array<number>(kinds.length).fill(0);
  /** Regular OUs written so far. */
  const writtenOus: number[] = [];
  let lastOu = -1;
  /** Users that may be duplicated: in cn=Users, ASCII DN, in order, not yet duplicated. */
  const dupCandidates: number[] = [];
  let oooLeftToPick = oooUsers;
  let usersLeftToSee = users;
  let unitIdx = 0;
  let unitFilled = 0;
  let unitNodes: number[] = []; // OU indexes of the open unit, root first
  let lateSeq = 0;

  const newOu = (parentDn: string, depth: number, late: boolean): number => {
    const idx = ous.length;
    const h = hash2(seed ^ 0x3c6ef372, idx);
    let name: string;
    let ascii = true;
    if (late) name = `Late${lateSeq++}`;
    else if (h % 20 === 0) { name = `${OU_NAMES[(h >>> 5) % OU_NAMES.length]} ${idx}`; ascii = IS_ASCII.test(name); }
    else name = `${OU_ASCII[(h >>> 5) % OU_ASCII.length]}${idx}`;
    ous.push({ dn: `ou=${name},${parentDn}`, name, depth, both: (h >>> 12) % 10 < 3, ascii });
    return idx;
  };
  const ouDepth = (parent: number) => (parent < 0 ? 1 : ous[parent].depth + 1);
  const ouDnOf = (parent: number) => (parent < 0 ? (parent === -1 ? USERS : BASE) : ous[parent].dn);

  while (total > 0) {
    let pick = rng.int(total);
    let ki = 0;
    while (pick >= left[ki]) { pick -= left[ki]; ki++; }
    const kd = kinds[ki];
    if (kd === K.Dup && dupCandidates.length === 0) {
      // Nothing to repeat yet: write a user in its place only when no user is left to come.
      if (left[1] > 0) continue;
      throw new Error('internal: no user to duplicate');
    }
    left[ki]--; total--;
    if (kd === K.Ou) {
      let parent: number;
      const roll = rng.next();
      if (lastOu >= 0 && roll < 0.6 && ous[lastOu].depth < 12) parent = lastOu;
      else if (writtenOus.length > 0 && roll < 0.85) parent = writtenOus[rng.int(writtenOus.length)];
      else parent = -2; // base
      const idx = newOu(ouDnOf(parent), ouDepth(parent), false);
      writtenOus.push(idx);
      lastOu = idx;
      kind[pos] = K.Ou; ord[pos++] = idx;
    } else if (kd === K.User) {
      const u = ordinals[1]++;
      const ooo = oooLeftToPick > 0 && rng.next() * usersLeftToSee < oooLeftToPick;
      usersLeftToSee--;
      if (ooo) {
        oooLeftToPick--;
        const unit = units[unitIdx];
        if (unitNodes.length === 0) {
          // Open the unit: a chain under an OU already written (or cn=Users).
          const root = writtenOus.length > 0 && rng.chance(0.5) ? writtenOus[rng.int(writtenOus.length)] : -1;
          let parentDn = ouDnOf(root);
          let depth = ouDepth(root);
          for (let d = 0; d < unit.depth; d++) {
            const idx = newOu(parentDn, depth, true);
            unitNodes.push(idx);
            parentDn = ous[idx].dn;
            depth++;
          }
        }
        userParent[u] = unitNodes[unitNodes.length - 1];
        userPos[u] = pos;
        kind[pos] = K.User; ord[pos++] = u;
        if (++unitFilled === unit.quota) {
          for (let d = unitNodes.length - 1; d >= 0; d--) { kind[pos] = K.LateOu; ord[pos++] = unitNodes[d]; }
          unitNodes = []; unitFilled = 0; unitIdx++;
        }
      } else {
        const parent = writtenOus.length > 0 && rng.chance(0.4) ? writtenOus[rng.int(writtenOus.length)] : -1;
        userParent[u] = parent;
        userPos[u] = pos;
        kind[pos] = K.User; ord[pos++] = u;
        if (parent === -1 && !person(seed, u).accentedDn && (rng.chance(0.05) || dupCandidates.length === 0)) dupCandidates.push(u);
      }
    } else if (kd === K.Dup) {
      const ci = rng.int(dupCandidates.length);
      const u = dupCandidates[ci];
      dupCandidates[ci] = dupCandidates[dupCandidates.length - 1];
      dupCandidates.pop();
      kind[pos] = K.Dup; ord[pos++] = dupOf.length;
      dupOf.push(u);
    } else {
      const o = ordinals[ki]++;
      if (kd === K.Group) groupPos[o] = pos;
      kind[pos] = kd; ord[pos++] = o;
    }
  }
  if (pos !== n) throw new Error(`internal: planned ${pos} records for ${n}`);

  // Group graph: cycles among dedicated groups, nesting (to earlier groups only) among the others.
  const groups = cnt.group;
  const groupMembers = new Map<number, number[]>();
  const cycles: number[][] = [];
  const inCycle = new Uint8Array(groups);
  const nCycles = groups >= 12 ? Math.max(3, Math.round(groups * 0.01)) : 0; // >= one of each shape
  const grng = new Rng(hash2(seed, 0x1234567));
  for (let c = 0; c < nCycles; c++) {
    const size = 1 + (c % 3); // self-loop, pair, triangle
    const members: number[] = [];
    for (let tries = 0; members.length < size && tries < 1000; tries++) {
      const g = grng.int(groups);
      if (!inCycle[g]) { inCycle[g] = 1; members.push(g); }
    }
    if (members.length < size) break;
    // Start with the one written first (lowest ordinal = lowest position).
    members.sort((a, b) => a - b);
    for (let i = 0; i < members.length; i++) {
      const from = members[i];
      const to = members[(i + 1) % members.length];
      groupMembers.set(from, [...(groupMembers.get(from) ?? []), to]);
    }
    cycles.push(members);
  }
  for (let g = 1; g < groups; g++) {
    if (inCycle[g] || !grng.chance(0.1)) continue;
    const nested: number[] = [];
    const want = 1 + grng.int(3);
    for (let t = 0; t < want * 3 && nested.length < want; t++) {
      const h = grng.int(g);
      if (!inCycle[h] && !nested.includes(h)) nested.push(h);
    }
    if (nested.length) groupMembers.set(g, nested);
  }
  return { kind, ord, ous, userParent, userPos, groupPos, dupOf, groupMembers, cycles, users, groups };
}

// ---------------------------------------------------------------------------------------------------------------------
// Writing

const ACI_USERS = [
  'access to entry by group="cn=OracleContextAdmins,cn=Groups,cn=OracleContext,dc=example,dc=com" (browse,add,delete) by group="cn=OracleUserSecurityAdmins,cn=Groups,cn=OracleContext,dc=example,dc=com" (browse,add,delete) by * (browse,noadd,nodelete)',
  'access to attr=(userPassword,authPassword,orclPassword) by group="cn=OracleUserSecurityAdmins,cn=Groups,cn=OracleContext,dc=example,dc=com" (search,read,write,compare) by self (search,read,write,compare) by * (nosearch,noread,nowrite,nocompare)',
  'access to attr=(*) by group="cn=OracleContextAdmins,cn=Groups,cn=OracleContext,dc=example,dc=com" (search,read,write,compare) by self (search,read,compare) by * (search,read,compare,nowrite)',
];

function photoPool(seed: number): string[] {
  const rng = new Rng(hash2(seed, 0x70686f74));
  const out: string[] = [];
  for (let i = 0; i < 16; i++) {
    const len = 1500 + rng.int(4000);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rng.u32() & 0xff;
    // JFIF header: 0xFF is never valid UTF-8, so the value stays bytes.
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]).copy(b, 0);
    b[len - 2] = 0xff; b[len - 1] = 0xd9;
    out.push(foldLine('jpegPhoto:: ' + b.toString('base64')));
  }
  return out;
}

function categoryOfKind(kd: number, skeletonIdx: number): Category {
  switch (kd) {
    case K.Skeleton: return skeletonIdx === 2 ? 'users' : 'containers';
    case K.Ou: case K.LateOu: return 'organizational_units';
    case K.User: case K.Dup: return 'users';
    case K.Group: return 'groups';
    case K.App: return 'applications';
    case K.Service: return 'services';
    case K.Policy: return 'policies';
    default: return 'unknown'; // Ref, Device
  }
}

function emptyCategories(): Record<Category, number> {
  return { users: 0, groups: 0, organizational_units: 0, containers: 0, applications: 0, services: 0, policies: 0, unknown: 0 };
}

/** Writes record strings into big Buffers (no huge rope strings to flatten) and respects stream backpressure. */
class Writer {
  private static readonly SIZE = 1 << 22;
  private buf = Buffer.allocUnsafe(Writer.SIZE);
  private off = 0;
  bytes = 0;
  constructor(private readonly out: Writable) {}
  /** Append; true when the caller should `await flush()` before pushing more. */
  push(s: string): boolean {
    if (s.length * 3 > Writer.SIZE - this.off) {
      // Rare: a record larger than what is left (or than the whole buffer): write what we have plus this one.
      this.pending.push(this.take(), Buffer.from(s, 'utf8'));
      return true;
    }
    this.off += this.buf.write(s, this.off, 'utf8');
    return this.off > Writer.SIZE - (1 << 16);
  }
  private pending: Buffer[] = [];
  private take(): Buffer {
    const b = this.buf.subarray(0, this.off);
    this.buf = Buffer.allocUnsafe(Writer.SIZE);
    this.off = 0;
    return b;
  }
  async flush(): Promise<void> {
    const chunks = this.pending;
    this.pending = [];
    if (this.off > 0) chunks.push(this.take());
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      this.bytes += chunk.length;
      if (!this.out.write(chunk)) await new Promise<void>((resolve, reject) => {
        const onDrain = () => { this.out.off('error', onError); resolve(); };
        const onError = (e: Error) => { this.out.off('drain', onDrain); reject(e); };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
  }
}

function countLines(s: string): number {
  let c = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) c++;
  return c;
}

/** Generate the export; resolves with the ground truth (also written to `opts.truth` when given). */
export async function generate(opts: GenOptions): Promise<Truth> {
  const n = opts.entries;
  const seed = (opts.seed ?? 1) >>> 0;
  const f = opts.outOfOrder ?? 0;
  const plan = makePlan(n, seed, f);
  const photos = photoPool(seed);
  const rng = new Rng(hash2(seed, 0x77726974));

  const out: Writable = opts.out === '-' ? process.stdout : createWriteStream(opts.out, { highWaterMark: 1 << 22 });
  const w = new Writer(out);

  const userDn = (u: number): string => {
    const p = plan.userParent[u];
    return userRdn(person(seed, u), u) + ',' + (p < 0 ? USERS : plan.ous[p].dn);
  };
  const groupDn = (g: number) => `cn=${groupName(seed, g)},${GROUPS}`;

  const truth: Truth = {
    generator: 'ldapflow bench/gen.ts v1', seed, outOfOrderRequested: f, base: BASE, entries: n, uniqueEntries: 0, bytes: 0,
    categories: emptyCategories(), categoriesUnique: emptyCategories(), outOfOrder: 0, danglingReferences: 0,
    danglingByEntry: {}, forwardReferences: 0, referenceVariants: 0, cycles: [], duplicates: 0, duplicateList: [],
    excluded: 0, excludedByObjectClass: { orclApplicationEntity: 0, orclNetService: 0, orclReferenceObject: 0 },
    base64Dns: 0, binaryValues: 0,
  };
  // Positions of OUs (for out-of-order accounting of OUs and users); skeleton positions are their indexes.
  const ouPos = new Int32Array(plan.ous.length);
  for (let i = 0; i < n; i++) if (plan.kind[i] === K.Ou || plan.kind[i] === K.LateOu) ouPos[plan.ord[i]] = i;
  const parentPosOfOu = (dn: string): number => {
    // Parent of an OU: base, cn=Users or another OU.
    const parent = dn.slice(dn.indexOf(',') + 1);
    if (parent === BASE) return 0;
    if (parent === USERS) return 1;
    return ouPosByDn.get(parent)!;
  };
  const ouPosByDn = new Map<string, number>();
  for (let i = 0; i < plan.ous.length; i++) ouPosByDn.set(plan.ous[i].dn, ouPos[i]);
  const userLine = new Int32Array(plan.users);
  const dupPos: number[] = [];

  w.push('version: 1\n\n# Oracle Internet Directory export (generated by ldapflow bench/gen.ts)\n' +
    `# seed ${seed}, ${n} entries, out-of-order ${f}\n\n`);
  let lineNo = 6; // the next record's first line (after 5 header lines)

  for (let i = 0; i < n; i++) {
    const kd = plan.kind[i];
    const o = plan.ord[i];
    let rec = '';
    let dn = '';
    let parentPos = -1;
    switch (kd) {
      case K.Skeleton: {
        ({ rec, dn } = skeletonRecord(o));
        parentPos = o === 0 ? -1 : o === 2 ? 1 : o === 5 ? 4 : o === 6 ? 5 : 0;
        break;
      }
      case K.Ou: case K.LateOu: {
        const node = plan.ous[o];
        dn = node.dn;
        parentPos = parentPosOfOu(dn);
        rec = dnLine(dn) + 'objectClass: top\nobjectClass: organizationalUnit\n' +
          (node.both ? 'objectClass: orclContainer\n' : '') + line('ou', node.name) + (node.both ? line('cn', node.name) : '');
        if (rng.chance(0.3)) rec += line('description', `Unidade organizacional ${node.name} - ${LOREM.slice(0, 40 + rng.int(160))}`);
        break;
      }
      case K.User: {
        dn = userDn(o);
        const p = plan.userParent[o];
        parentPos = p < 0 ? 1 : ouPos[p];
        userLine[o] = 0; // set below
        rec = userRecord(o, dn, false);
        break;
      }
      case K.Dup: {
        const u = plan.dupOf[o];
        const orig = userDn(u);
        dn = variantDn(orig);
        parentPos = 1;
        rec = userRecord(u, dn, true);
        truth.duplicateList.push({ dn: orig, duplicateDn: dn, firstIndex: plan.userPos[u], firstLine: userLine[u],
          secondIndex: i, secondLine: 0 });
        dupPos.push(i);
        break;
      }
      case K.Group: {
        dn = groupDn(o);
        parentPos = 3;
        rec = groupRecord(o, dn, i);
        break;
      }
      case K.App: {
        dn = `orclApplicationCommonName=app${o},${PRODUCTS}`;
        parentPos = 5;
        const h = hash2(seed ^ 0x61707073, o);
        rec = dnLine(dn) + 'objectClass: top\nobjectClass: orclApplicationEntity\n' + line('orclApplicationCommonName', `app${o}`) +
          line('orclAppFullName', `Aplicação corporativa ${o}`) + `userPassword: {SSHA}${b64(hex(h, 30)).slice(0, 40)}\n` +
          line('description', `Application entity for middle tier instance ${o} on host mt${h % 97}.example.com`) +
          `orclVersion: 11.1.1.${h % 9}\ncreateTimestamp: ${ts(h)}\n`;
        truth.excludedByObjectClass.orclApplicationEntity++;
        break;
      }
      case K.Service: {
        dn = `cn=DB${o},${ORACTX}`;
        parentPos = 4;
        const h = hash2(seed ^ 0x6e657473, o);
        rec = dnLine(dn) + 'objectClass: top\nobjectClass: orclNetService\n' + `cn: DB${o}\n` +
          foldLine(`orclNetDescString: (DESCRIPTION=(ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=db${h % 500}.example.com)(PORT=1521))(ADDRESS=(PROTOCOL=TCP)(HOST=db${(h >>> 9) % 500}-stby.example.com)(PORT=1521)))(CONNECT_DATA=(SERVICE_NAME=DB${o}.example.com)(SERVER=DEDICATED)))`) +
          `orclNetDescName: 000:cn=DESCRIPTION_0\norclVersion: 12.2.0.1\n`;
        truth.excludedByObjectClass.orclNetService++;
        break;
      }
      case K.Ref: {
        dn = `cn=ref${o},${ORACTX}`;
        parentPos = 4;
        const h = hash2(seed ^ 0x72656673, o);
        rec = dnLine(dn) + `objectClass: top\nobjectClass: orclReferenceObject\ncn: ref${o}\norclOwnerGUID: ${hex(h, 32)}\n`;
        truth.excludedByObjectClass.orclReferenceObject++;
        break;
      }
      case K.Policy: {
        dn = o === 0 ? `cn=PwdPolicyEntry,${COMMON}` : `cn=PwdPolicy${o},${COMMON}`;
        parentPos = 6;
        rec = dnLine(dn) + 'objectClass: top\nobjectClass: pwdPolicy\nobjectClass: orclPwdPolicy\n' +
          `cn: ${o === 0 ? 'PwdPolicyEntry' : 'PwdPolicy' + o}\npwdAttribute: userPassword\npwdMaxAge: 5184000\n` +
          `pwdMinLength: ${6 + (o % 6)}\npwdLockout: TRUE\npwdMaxFailure: 10\npwdLockoutDuration: 86400\n` +
          `pwdInHistory: 5\norclpwdPolicyEnable: 1\norclpwdIPLockout: 0\norclpwdAlphaNumeric: 1\n`;
        break;
      }
      case K.Device: {
        dn = `cn=printer${o},${DEVICES}`;
        parentPos = 7;
        const h = hash2(seed ^ 0x64657673, o);
        rec = dnLine(dn) + `objectClass: top\nobjectClass: device\ncn: printer${o}\nserialNumber: SN-${hex(h, 10)}\n` +
          line('l', CITIES[h % CITIES.length]) + line('description', `Impressora do andar ${h % 30}`);
        break;
      }
    }
    // Comments: sometimes above a record, rarely inside one (after the dn line).
    const roll = rng.next();
    let pre = '';
    if (roll < 0.01) pre = `# entry ${i}\n`;
    else if (roll < 0.012) {
      // After the whole (possibly folded) dn line: the first newline not followed by a continuation space.
      let nl = rec.indexOf('\n');
      while (rec.charCodeAt(nl + 1) === 32) nl = rec.indexOf('\n', nl + 1);
      rec = rec.slice(0, nl + 1) + '# comment inside the record\n' + rec.slice(nl + 1);
    }
    const cat = categoryOfKind(kd, o);
    truth.categories[cat]++;
    if (kd !== K.Dup) truth.categoriesUnique[cat]++;
    if (kd === K.App || kd === K.Service || kd === K.Ref) truth.excluded++;
    if (parentPos > i) truth.outOfOrder++;
    if (!IS_ASCII.test(dn)) truth.base64Dns++;
    const recLine = lineNo + countLines(pre);
    if (kd === K.User) userLine[o] = recLine;
    if (kd === K.Dup) truth.duplicateList[truth.duplicateList.length - 1].secondLine = recLine;
    const text = pre + rec + '\n';
    lineNo += countLines(text);
    if (w.push(text)) await w.flush();
  }
  await w.flush();
  if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));

  truth.bytes = w.bytes;
  truth.duplicates = truth.duplicateList.length;
  truth.uniqueEntries = n - truth.duplicates;
  truth.cycles = plan.cycles.map((c) => c.map(groupDn));
  if (opts.truth) writeFileSync(opts.truth, JSON.stringify(truth, null, 2) + '\n');
  return truth;

  // ---- record builders (closures over seed, plan, truth) ----

  function skeletonRecord(idx: number): { rec: string; dn: string } {
    const aci = (dnx: string) => ACI_USERS.map((a) => foldLine('orclACI: ' + a.replaceAll('dc=example,dc=com', BASE))).join('') +
      foldLine(`orclEntryLevelACI: access to entry by dn="${ADMIN}" (browse,add,delete,proxy) by * (browse)`) + `# acl of ${dnx}\n`;
    switch (idx) {
      case 0: return { dn: BASE, rec: `dn: ${BASE}\nobjectClass: top\nobjectClass: domain\ndc: example\ndescription: Example base\n` };
      case 1: return { dn: USERS, rec: `dn: ${USERS}\nobjectClass: top\nobjectClass: orclContainer\ncn: Users\n` + aci(USERS) };
      case 2: {
        const h = hash2(seed, 0xad);
        return { dn: ADMIN, rec: `dn: ${ADMIN}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n` +
          'objectClass: inetOrgPerson\nobjectClass: orclUser\nobjectClass: orclUserV2\ncn: orcladmin\nsn: orcladmin\n' +
          `uid: orcladmin\nuserPassword: {SSHA}${b64(hex(h, 30)).slice(0, 40)}\norclIsEnabled: ENABLED\norclGUID: ${hex(h, 32)}\n` };
      }
      case 3: return { dn: GROUPS, rec: `dn: ${GROUPS}\nobjectClass: top\nobjectClass: orclContainer\ncn: Groups\n` + aci(GROUPS) };
      case 4: return { dn: ORACTX, rec: `dn: ${ORACTX}\nobjectClass: top\nobjectClass: orclContainer\ncn: OracleContext\n` + aci(ORACTX) };
      case 5: return { dn: PRODUCTS, rec: `dn: ${PRODUCTS}\nobjectClass: top\nobjectClass: orclContainer\ncn: Products\n` };
      case 6: return { dn: COMMON, rec: `dn: ${COMMON}\nobjectClass: top\nobjectClass: orclContainer\ncn: Common\n` +
        `orclCommonUserSearchBase: ${USERS}\norclCommonGroupSearchBase: ${GROUPS}\norclCommonNicknameAttribute: uid\n` };
      default: return { dn: DEVICES, rec: `dn: ${DEVICES}\nobjectClass: top\nobjectClass: orclContainer\ncn: Devices\n` };
    }
  }

  function userRecord(u: number, dn: string, dup: boolean): string {
    const p = person(seed, u);
    const h = hash2(seed ^ 0x75736572, u);
    const h2 = hash2(h, u);
    const full = `${p.first} ${p.last}`;
    const city = CITIES[h % CITIES.length];
    let r = dnLine(dn) +
      'objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\n' +
      'objectClass: orclUser\nobjectClass: orclUserV2\n' +
      `uid: ${p.uid}\n`;
    if (p.accentedDn) r += line('cn', `${full} ${u}`) + `cn: ${p.uid}\n`;
    else r += `cn: ${p.uid}\n` + line('cn', full);
    r += line('sn', p.last) + line('givenName', p.first) + line('displayName', full) +
      `mail: ${p.uid}@example.com\n` +
      `telephoneNumber: +55 11 ${3000 + (h % 6000)}-${1000 + (h2 % 9000)}\n` +
      `mobile: +55 11 9${4000 + (h2 % 5000)}-${1000 + ((h >>> 7) % 9000)}\n` +
      line('title', dup ? `${TITLES[h % TITLES.length]} (atualizado)` : TITLES[h % TITLES.length]) +
      `employeeNumber: ${String(u).padStart(7, '0')}\n` +
      `departmentNumber: ${100 + (h2 % 800)}\n` +
      line('l', city) + line('street', `${STREETS[(h >>> 4) % STREETS.length]}, ${1 + (h2 % 3000)}`) +
      `postalCode: ${String(h % 100000).padStart(5, '0')}-${String(h2 % 1000).padStart(3, '0')}\n` +
      `preferredLanguage: pt-BR\n` +
      `orclIsEnabled: ${(h >>> 3) % 10 === 0 ? 'DISABLED' : 'ENABLED'}\n` +
      `orclGUID: ${hex(h2, 32)}\n`;
    if ((h >>> 11) % 3 === 0) r += line('orclNormDN', dn.toLowerCase());
    const pw = b64(hex(h2 ^ 0x5a5a, 30));
    r += `userPassword: {SSHA}${pw.slice(0, 40)}\n` +
      `authpassword;orclcommonpwd: {MD5}${pw.slice(0, 24)}\n` +
      `authpassword;oid: {SASL/MD5}${pw.slice(4, 28)}\n` +
      `authpassword;oid: {SASL/MD5-DN}${pw.slice(8, 32)}\n` +
      `orclPassword: {x- orcldbpwd}1.0:${hex(h ^ h2, 16)}\n` +
      `orclPwdChangedTime: ${ts(h2)}\n` +
      `createTimestamp: ${ts(h)}\n` +
      `creatorsName: cn=orcladmin\n` +
      `modifiersName: cn=orcladmin\n` +
      `modifyTimestamp: ${ts(h2)}\n`;
    if (u > 0 && (h >>> 13) % 5 === 0) {
      const m = h2 % u; // an earlier user: written before this one
      const mdn = userDn(m);
      r += line('manager', mdn);
      if (plan.userPos[m] > plan.userPos[u]) truth.forwardReferences++;
    }
    const roll = (h >>> 17) % 100;
    if (roll < 20) r += foldLine(`description: ${LOREM.slice(0, 120 + (h2 % 200))} Ref ${u}.`);
    else if (roll < 23) r += `description: ${RAW_DESCRIPTIONS[h2 % RAW_DESCRIPTIONS.length]}\n`;
    if ((h >>> 21) % 100 < 10) { r += photos[h2 % photos.length]; truth.binaryValues++; }
    return r;
  }

  function groupRecord(g: number, dn: string, pos: number): string {
    const grng = new Rng(hash2(seed ^ 0x67727073, g));
    const unique = grng.next() < 0.9;
    const attr = unique ? 'uniqueMember' : 'member';
    let r = dnLine(dn) + `objectClass: top\nobjectClass: ${unique ? 'groupOfUniqueNames' : 'groupOfNames'}\nobjectClass: orclGroup\n` +
      line('cn', groupName(seed, g)) + line('displayName', `Grupo ${groupName(seed, g)}`) +
      `owner: ${ADMIN}\n` + line('description', `Grupo de acesso ${g}`) + `orclGUID: ${hex(hash2(seed, g), 32)}\n`;
    const want = Math.min(plan.users, 50 + grng.int(71));
    const seen = new Set<number>();
    for (let t = 0; seen.size < want && t < want * 4; t++) {
      const u = grng.int(plan.users);
      if (seen.has(u)) continue;
      seen.add(u);
      let v = userDn(u);
      if (plan.userPos[u] > pos) truth.forwardReferences++;
      if (IS_ASCII.test(v) && grng.next() < 0.03) { v = variantDn(v); truth.referenceVariants++; }
      r += line(attr, v);
    }
    for (const h of plan.groupMembers.get(g) ?? []) {
      r += line(attr, groupDn(h));
      if (plan.groupPos[h] > pos) truth.forwardReferences++;
    }
    if (grng.next() < 0.2) {
      const k = 1 + grng.int(3);
      for (let j = 0; j < k; j++) r += line(attr, `cn=ghost${g}x${j},${USERS}`);
      truth.danglingReferences += k;
      truth.danglingByEntry[dn] = k;
    }
    r += `createTimestamp: ${ts(hash2(seed, g))}\nmodifiersName: cn=orcladmin\n`;
    return r;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// CLI

function usage(msg?: string): never {
  if (msg) process.stderr.write(`gen: ${msg}\n`);
  process.stderr.write('usage: npm run gen -- --entries N --out FILE|- [--seed S] [--out-of-order F] [--truth FILE.json]\n');
  process.exit(2);
}

export function parseArgs(argv: string[]): GenOptions {
  const o: Partial<GenOptions> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const val = (): string => {
      if (eq > 0 && a.startsWith('--')) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) usage(`${name} needs a value`);
      return v;
    };
    const num = (v: string): number => {
      const x = Number(v);
      if (v.trim() === '' || !Number.isFinite(x)) usage(`${name}: not a number: ${v}`);
      return x;
    };
    switch (name) {
      case '--entries': o.entries = num(val()); break;
      case '--out': o.out = val(); break;
      case '--seed': o.seed = num(val()); break;
      case '--out-of-order': o.outOfOrder = num(val()); break;
      case '--truth': o.truth = val(); break;
      case '-h': case '--help': usage();
      // falls through (usage never returns)
      default: usage(`unknown argument ${a}`);
    }
  }
  if (o.entries === undefined) usage('--entries is required');
  if (o.out === undefined) usage('--out is required');
  return o as GenOptions;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = process.hrtime.bigint();
  let truth: Truth;
  try {
    truth = await generate(opts);
  } catch (e) {
    process.stderr.write(`gen: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (opts.out !== '-') {
    process.stderr.write(`gen: ${truth.entries} entries, ${(truth.bytes / 1e6).toFixed(1)} MB ` +
      `(${Math.round(truth.bytes / truth.entries)} B/entry) in ${s.toFixed(1)} s; out of order ${truth.outOfOrder}, ` +
      `dangling ${truth.danglingReferences}, cycles ${truth.cycles.length}, duplicates ${truth.duplicates}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
