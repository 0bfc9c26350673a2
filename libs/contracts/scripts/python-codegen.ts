import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildJsonSchemaDocument, EXPORTED_SCHEMAS } from '../src/json-schema';
import { SERVICE_RPCS, WORKER_RPCS, WORKER_SERVED_RPCS } from '../src/rpc-table';
import { CONSUMERS, RPC, STREAMS, SUBJECT_PREFIX, SUBJECTS, WORKER_RPC, WORKER_RPC_PREFIX, workerCancelSubject } from '../src/subjects';
import { SCHEMA_VERSION } from '../src/version';

export const REPO_ROOT = resolve(__dirname, '../../..');
export const JSON_SCHEMA_PATH = join(REPO_ROOT, 'libs/contracts/generated/contracts.schema.json');
export const PY_MODELS_PATH = join(REPO_ROOT, 'gpu-workers/hounsfield/contracts/models.py');
export const PY_SUBJECTS_PATH = join(REPO_ROOT, 'gpu-workers/hounsfield/contracts/subjects.py');
export const PY_RPC_PATH = join(REPO_ROOT, 'gpu-workers/hounsfield/contracts/rpc.py');
export const RECIPE_CONFIGS_PATH = join(REPO_ROOT, 'libs/contracts/generated/recipe-configs.json');
const CODEGEN = join(REPO_ROOT, 'gpu-workers/.venv/bin/datamodel-codegen');
const PYTHON = join(REPO_ROOT, 'gpu-workers/.venv/bin/python');

export interface GeneratedFiles {
  jsonSchema: string;
  pythonModels: string;
  pythonSubjects: string;
  pythonRpc: string;
  recipeConfigs: string;
}

/**
 * The recipes' config schemas, exported by the Python package (each recipe's pydantic config is
 * the source of truth); the gateway validates `spec.config` against them.
 */
export function renderRecipeConfigs(): string {
  return execFileSync(PYTHON, ['-m', 'hounsfield.recipes.schemas'], {
    cwd: join(REPO_ROOT, 'gpu-workers'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The JSON Schema document as committed text. */
export function renderJsonSchema(): string {
  return `${JSON.stringify(buildJsonSchemaDocument(), null, 2)}\n`;
}

/** Pydantic v2 models from the JSON Schema, through datamodel-code-generator (pinned in gpu-workers). */
export function renderPythonModels(jsonSchema: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hf-codegen-'));
  try {
    const input = join(dir, 'contracts.schema.json');
    const output = join(dir, 'models.py');
    writeFileSync(input, jsonSchema);
    execFileSync(
      CODEGEN,
      [
        '--input', input,
        '--input-file-type', 'jsonschema',
        '--output', output,
        '--output-model-type', 'pydantic_v2.BaseModel',
        '--target-python-version', '3.11',
        '--disable-timestamp',
        '--use-annotated',
        '--collapse-root-models',
        '--strict-nullable',
        '--use-standard-collections',
        '--use-union-operator',
        '--use-title-as-name',
        '--use-schema-description',
        '--use-field-description',
        '--enum-field-as-literal', 'all',
        // Nested defaults are emitted as dicts that pydantic validates (validate_default=True); mypy
        // cannot see that, so the generated module opts out of exactly that check.
        '--custom-file-header',
        '# Generated from libs/contracts by `npm run contracts:generate`. Do not edit.\n# mypy: disable-error-code="assignment"',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return readFileSync(output, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Subject and stream constants for Python, mirroring `subjects.ts`. */
export function renderPythonSubjects(): string {
  const lines = [
    '# Generated from libs/contracts/src/subjects.ts by `npm run contracts:generate`. Do not edit.',
    '"""NATS subjects, JetStream stream and consumer names shared with the TypeScript services."""',
    '',
    `SCHEMA_VERSION = ${SCHEMA_VERSION}`,
    '',
    `STREAM_ASSIGN = ${JSON.stringify(STREAMS.assign)}`,
    `STREAM_EVENTS = ${JSON.stringify(STREAMS.events)}`,
    `STREAM_EVAL = ${JSON.stringify(STREAMS.eval)}`,
    `STREAM_LOGS = ${JSON.stringify(STREAMS.logs)}`,
    '',
    '',
    'def assign_subject(worker_id: str) -> str:',
    `    return f"${SUBJECT_PREFIX.assign}.{worker_id}"`,
    '',
    '',
    'def worker_heartbeat_subject(worker_id: str) -> str:',
    `    return f"${SUBJECT_PREFIX.events}.worker.{worker_id}.heartbeat"`,
    '',
    '',
    'def job_progress_subject(job_id: str) -> str:',
    `    return f"${SUBJECT_PREFIX.events}.job.{job_id}.progress"`,
    '',
    '',
    'def job_status_subject(job_id: str) -> str:',
    `    return f"${SUBJECT_PREFIX.events}.job.{job_id}.status"`,
    '',
    '',
    'def job_notice_subject(job_id: str) -> str:',
    `    return ${JSON.stringify(SUBJECTS.jobNotice('JOB')).replace('JOB', '" + job_id + "')}`,
    '',
    '',
    'def job_environment_subject(job_id: str) -> str:',
    `    return ${JSON.stringify(SUBJECTS.jobEnvironment('JOB')).replace('JOB', '" + job_id + "')}`,
    '',
    '',
    'def worker_consumer(worker_id: str) -> str:',
    `    return ${JSON.stringify(CONSUMERS.worker('WORKER')).replace('WORKER', '" + worker_id + "')}`,
    '',
    '',
    'def worker_cancel_subject(worker_id: str) -> str:',
    `    return ${JSON.stringify(workerCancelSubject('WORKER')).replace('WORKER', '" + worker_id + "')}`,
    '',
    '',
    `RPC_SUBMIT_JOB = ${JSON.stringify(RPC.submitJob)}`,
    `RPC_GET_JOB = ${JSON.stringify(RPC.getJob)}`,
    '',
    ...checkpointSubjectLines(),
    ...logSubjectLines(),
    ...evaluationSubjectLines(),
    ...workerRpcLines(),
  ];
  return lines.join('\n');
}

/** Calls a worker makes on its own subjects (`WORKER_RPC`), and the subject of one call. */
function workerRpcLines(): string[] {
  return [
    '',
    '# Worker calls: sent on hf.rpc.w.<worker>.<call>, which only that worker may publish on.',
    ...Object.entries(WORKER_RPC).map(([name, call]) => `WORKER_RPC_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} = ${JSON.stringify(call)}`),
    '',
    '',
    'def worker_rpc_subject(worker_id: str, call: str) -> str:',
    `    return f"${WORKER_RPC_PREFIX}.{worker_id}.{call}"`,
    '',
    '',
    'def inbox_prefix(nats_user: str) -> str:',
    '    """Replies come to _INBOX.<user>.<id>: each NATS user may read its own inboxes only."""',
    '    return f"_INBOX.{nats_user}"',
    '',
  ];
}

/** The evaluation service's subjects and queue names, which the evaluation shards use. */
function evaluationSubjectLines(): string[] {
  const rpc = Object.entries(RPC)
    .flatMap(([name, subject]) => (name.startsWith('evaluations') && typeof subject === 'string' ? [[name, subject] as const] : []))
    .map(([name, subject]) => `RPC_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} = ${JSON.stringify(subject)}`);
  return [
    '',
    ...rpc,
    '',
    '',
    'def evaluation_cases_subject(evaluation_id: str) -> str:',
    `    return ${JSON.stringify(SUBJECTS.evalCases('EVAL')).replace('EVAL', '" + evaluation_id + "')}`,
    '',
    '',
    'def evaluation_consumer(evaluation_id: str) -> str:',
    `    return ${JSON.stringify(CONSUMERS.evaluation('EVAL')).replace('EVAL', '" + evaluation_id + "')}`,
    '',
  ];
}

/** Attempt logs: the checkpoints service's logs RPC and the live subject, which the worker agent uses. */
function logSubjectLines(): string[] {
  const rpc = Object.entries(RPC)
    .flatMap(([name, subject]) => (name.startsWith('logs') && typeof subject === 'string' ? [[name, subject] as const] : []))
    .map(([name, subject]) => `RPC_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} = ${JSON.stringify(subject)}`);
  const live = SUBJECTS.jobLogs('JOB', 12345).replace('JOB', '{job_id}').replace('12345', '{attempt}');
  return ['', ...rpc, '', '', 'def job_logs_subject(job_id: str, attempt: int) -> str:', `    return f${JSON.stringify(live)}`, ''];
}

/** The checkpoints service's subjects, which the worker agent and the `hounsfield` CLI use. */
function checkpointSubjectLines(): string[] {
  const rpc = Object.entries(RPC)
    .flatMap(([name, subject]) => (name.startsWith('checkpoints') && typeof subject === 'string' ? [[name, subject] as const] : []))
    .map(([name, subject]) => `RPC_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} = ${JSON.stringify(subject)}`);
  return [
    ...rpc,
    '',
    '',
    'def checkpoint_events_subject(job_id: str) -> str:',
    `    return ${JSON.stringify(SUBJECTS.checkpointEvents('JOB')).replace('JOB', '" + job_id + "')}`,
    '',
  ];
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/** The generated model of a schema (`models.CheckpointRecord`), or `None` when it has no model of its own. */
function modelOf(schema: unknown): string {
  const found = Object.entries(EXPORTED_SCHEMAS).find(([, exported]) => exported === schema);
  return found ? `models.${found[0]}` : 'None';
}

/**
 * The RPC table (libs/contracts/src/rpc-table.ts) as Python: each call with its subject and the
 * generated models of its request and reply, which the Python clients call through.
 */
export function renderPythonRpc(): string {
  const line = (kind: string, constant: string, first: string, request: unknown, reply: unknown) => {
    const [req, rep] = [modelOf(request), modelOf(reply)];
    const typed = req === 'None' || rep === 'None' ? `: ${kind}[Any, Any]` : '';
    return `${constant}${typed} = ${kind}(${first}, ${req}, ${rep})`;
  };
  return [
    '# Generated from libs/contracts/src/rpc-table.ts by `npm run contracts:generate`. Do not edit.',
    '"""The RPC table: every call\'s subject, with the models of its request and reply (None: no model of its own)."""',
    '',
    'from __future__ import annotations',
    '',
    'from dataclasses import dataclass',
    'from typing import Any, Generic, TypeVar',
    '',
    'from pydantic import BaseModel',
    '',
    'from hounsfield.contracts import models',
    '',
    'Req = TypeVar("Req", bound=BaseModel)',
    'Rep = TypeVar("Rep", bound=BaseModel)',
    '',
    '',
    '@dataclass(frozen=True)',
    'class ServiceRpc(Generic[Req, Rep]):',
    '    """A call between services, on one subject (a queue group of the serving service answers)."""',
    '',
    '    subject: str',
    '    request: type[Req] | None',
    '    reply: type[Rep] | None',
    '',
    '',
    '@dataclass(frozen=True)',
    'class WorkerRpc(Generic[Req, Rep]):',
    '    """A call a worker makes, on its own subject (only that worker may publish there)."""',
    '',
    '    call: str',
    '    request: type[Req] | None',
    '    reply: type[Rep] | None',
    '',
    '    def subject(self, worker_id: str) -> str:',
    `        return f"${WORKER_RPC_PREFIX}.{worker_id}.{self.call}"`,
    '',
    '',
    '@dataclass(frozen=True)',
    'class WorkerServedRpc(Generic[Req, Rep]):',
    '    """A call a worker serves on a subject of its own; the reply is the bare reply (no envelope)."""',
    '',
    '    subject_template: str',
    '    request: type[Req] | None',
    '    reply: type[Rep] | None',
    '',
    '    def subject(self, worker_id: str) -> str:',
    '        return self.subject_template.format(worker_id=worker_id)',
    '',
    '',
    ...Object.entries(SERVICE_RPCS).map(([name, entry]) => line('ServiceRpc', snake(name), JSON.stringify(entry.subject), entry.request, entry.reply)),
    '',
    ...Object.entries(WORKER_RPCS).map(([name, entry]) => line('WorkerRpc', `WORKER_${snake(name)}`, JSON.stringify(entry.call), entry.request, entry.reply)),
    '',
    ...Object.entries(WORKER_SERVED_RPCS).map(([name, entry]) =>
      line('WorkerServedRpc', `WORKER_SERVED_${snake(name)}`, JSON.stringify(entry.subject('{worker_id}')), entry.request, entry.reply),
    ),
    '',
  ].join('\n');
}

export function renderAll(): GeneratedFiles {
  const jsonSchema = renderJsonSchema();
  return {
    jsonSchema,
    pythonModels: renderPythonModels(jsonSchema),
    pythonSubjects: renderPythonSubjects(),
    pythonRpc: renderPythonRpc(),
    recipeConfigs: renderRecipeConfigs(),
  };
}
