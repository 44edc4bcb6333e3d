#!/usr/bin/env node
// Runs the TypeScript CLI straight from a checkout: tsx's ESM hooks are registered in this
// process (no child process, so stdio, signals and the exit code are the CLI's own).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
