/**
 * ListMemo: a value worked out from a list of values (an entry's objectClass values), remembered by the values exactly
 * as spelled. An export repeats a few class lists, spelled the same way every time, and neighbours mostly share one:
 * the last list is compared first (nothing hashed), then a tree with one level per value (each short value hashed
 * once), where a joined, lower-cased key was built (two strings) and hashed per entry. A list with a binary value is
 * not remembered. Categorize and the schema fix both keep one.
 */
import type { Value } from './entry.js';
import { ownString } from './strings.js';

interface MemoNode<T> {
  next?: Map<string, MemoNode<T>>;
  /** The value of the list that ends here, when `done`. */
  value?: T;
  done?: boolean;
}

export class ListMemo<T> {
  private root: MemoNode<T> = {};
  private nodes = 0;
  private lastHead = '';
  private lastList: string[] | undefined;
  private lastValue: T | undefined;

  /**
   * `make` works the value out (given once, not per call: a closure per entry was measurable); `maxNodes`: the tree
   * starts over when it holds more nodes than this.
   */
  constructor(private readonly make: (values: Value[], head: string) => T, private readonly maxNodes: number) {}

  /** The value for `values` under `head` (a first level: '' when there is none): remembered, else made. */
  get(head: string, values: Value[]): T {
    const last = this.lastList;
    if (last && head === this.lastHead && values.length === last.length) {
      let i = 0;
      while (i < last.length && values[i] === last[i]) i++;
      if (i === last.length) return this.lastValue as T;
    }
    for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'string') return this.make(values, head);
    if (this.nodes > this.maxNodes) {
      this.root = {};
      this.nodes = 0;
    }
    let node = this.child(this.root, head);
    for (let i = 0; i < values.length; i++) node = this.child(node, values[i] as string);
    if (!node.done) {
      node.value = this.make(values, head);
      node.done = true;
    }
    // Owned copies: values read from LDIF are slices of the reader's chunks (see ownString).
    this.lastList = values.map((v) => ownString(v as string));
    this.lastHead = ownString(head);
    this.lastValue = node.value;
    return node.value as T;
  }

  private child(node: MemoNode<T>, key: string): MemoNode<T> {
    let next = node.next?.get(key);
    if (next === undefined) {
      (node.next ??= new Map()).set(ownString(key), (next = {}));
      this.nodes++;
    }
    return next;
  }
}
