/**
 * Map stage factories by name: how a worker thread rebuilds a stage from `MapStage.worker` ({ factory, options }).
 * The only place a worker looks stages up; a stage whose factory is not here always runs inline.
 */
import { LdapflowError } from '../errors.js';
import type { MapStage } from '../stage.js';
import { fixSchema, type FixSchemaOptions } from './fix-schema.js';
import { categorize, type CategorizeOptions } from './categorize.js';

export type StageFactory = (options: unknown) => MapStage;

const FACTORIES: Record<string, StageFactory> = {
  fixSchema: (o) => fixSchema(o as FixSchemaOptions),
  categorize: (o) => categorize(o as CategorizeOptions),
};

export function hasFactory(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(FACTORIES, name);
}

/** Build a stage from its factory name and plain-data options. */
export function buildStage(factory: string, options: unknown): MapStage {
  if (!hasFactory(factory)) throw new LdapflowError('WORKER_UNKNOWN_STAGE', `no map stage factory named "${factory}" (known: ${Object.keys(FACTORIES).join(', ')})`);
  return FACTORIES[factory](options);
}
