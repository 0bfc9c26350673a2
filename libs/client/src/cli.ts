import { readFileSync } from 'node:fs';
import { formatLogLine, jobStateSchema } from '@hounsfield/contracts';
import { cliToken, tokenCommand, userCommand } from './cli-auth';
import { formatEvent, formatJob, formatSeries } from './format';
import { HounsfieldApiError, HounsfieldClient, LogQuery } from './http-client';

const USAGE = `hounsfield — command-line client of the Hounsfield gateway

usage:
  hounsfield submit <spec.json>     submit a job and follow its progress
  hounsfield get <job-id>           show a job
  hounsfield list [state]           list jobs, newest first
  hounsfield watch <job-id>         follow a job's events until it ends
  hounsfield cancel <job-id>        cancel a job (SIGTERM, grace period, SIGKILL)
  hounsfield workers                list workers and their GPUs
  hounsfield metrics <job-id> [names]  draw a job's stored metric curves (names comma-separated)
  hounsfield logs <job-id> [-f] [--attempt N] [--rank R|launcher] [--tail N]
                                    print a job's log ([rank N] lines of all ranks); -f follows it
  hounsfield whoami                 the token's user and role
  hounsfield token create <name> [--user <user>] [--expires-in <seconds>]
                                    a new API token (printed once); admins may name another user
  hounsfield token list [--user <user>]      tokens (never their secrets)
  hounsfield token revoke <tok_…>            stops a token at once
  hounsfield user create <name> <admin|user|viewer>   (admins) a new user
  hounsfield user list | set-role <name> <role> | disable <name> | enable <name>

environment: HOUNSFIELD_URL (default http://127.0.0.1:8080), HOUNSFIELD_TOKEN (default: the local
stack's admin token in $HOUNSFIELD_HOME/admin-token, .hounsfield/admin-token)`;

async function watch(client: HounsfieldClient, id: string): Promise<number> {
  for await (const event of client.jobEvents(id)) console.log(formatEvent(event));
  const job = await client.getJob(id);
  console.log(formatJob(job));
  return job.state === 'succeeded' ? 0 : 1;
}

/** `logs <job-id> [-f] [--attempt N] [--rank R] [--tail N]`: the stored log, or followed until the job ends. */
async function logs(client: HounsfieldClient, id: string, options: string[]): Promise<number> {
  const query: LogQuery = {};
  let follow = false;
  for (let i = 0; i < options.length; i += 1) {
    const [name, value] = [options[i], options[i + 1]];
    if (name === '-f' || name === '--follow') follow = true;
    else if (name === '--attempt' || name === '--tail') {
      query[name === '--attempt' ? 'attempt' : 'tail'] = Number(value);
      i += 1;
    } else if (name === '--rank') {
      query.rank = value === 'launcher' ? 'launcher' : Number(value);
      i += 1;
    } else {
      console.error(`unknown option ${name}`);
      return 2;
    }
  }
  if (!follow) {
    process.stdout.write(await client.jobLogs(id, query));
    return 0;
  }
  for await (const event of client.followJobLogs(id, query)) {
    if (event.event === 'line') console.log(formatLogLine(event));
    else console.error(`(${event.reason})`);
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const client = new HounsfieldClient({
    baseUrl: process.env.HOUNSFIELD_URL ?? `http://127.0.0.1:${process.env.HOUNSFIELD_HTTP_PORT ?? 8080}`,
    token: cliToken(),
  });
  const [command, arg] = argv;
  switch (command) {
    case 'whoami': {
      const me = await client.whoami();
      console.log(`${me.user} (${me.role}), token ${me.tokenId}${me.expiresAt ? `, expires ${me.expiresAt}` : ''}`);
      return 0;
    }
    case 'token': {
      const code = await tokenCommand(client, argv.slice(1));
      if (code !== undefined) return code;
      break;
    }
    case 'user': {
      const code = await userCommand(client, argv.slice(1));
      if (code !== undefined) return code;
      break;
    }
    case 'submit': {
      if (!arg) break;
      const job = await client.submitJob(JSON.parse(readFileSync(arg, 'utf8')));
      console.log(formatJob(job));
      return watch(client, job.id);
    }
    case 'get':
      if (!arg) break;
      console.log(formatJob(await client.getJob(arg)));
      return 0;
    case 'list':
      for (const job of await client.listJobs(arg ? jobStateSchema.parse(arg) : undefined)) console.log(formatJob(job));
      return 0;
    case 'watch':
      if (!arg) break;
      return watch(client, arg);
    case 'cancel':
      if (!arg) break;
      console.log(formatJob(await client.cancelJob(arg)));
      return 0;
    case 'metrics': {
      if (!arg) break;
      const names = argv[2]?.split(',').filter(Boolean);
      const metrics = await client.jobMetrics(arg, { names });
      if (metrics.series.length === 0) console.log(`no stored series for ${arg} yet`);
      for (const series of metrics.series) console.log(formatSeries(series));
      return 0;
    }
    case 'logs':
      if (!arg) break;
      return logs(client, arg, argv.slice(2));
    case 'workers':
      for (const w of await client.listWorkers()) {
        console.log(`${w.workerId} (${w.hostname})${w.simulated ? ' simulated' : ''}, last seen ${w.lastSeenAt}`);
        for (const gpu of w.gpus) {
          console.log(`  GPU ${gpu.index} ${gpu.name} ${(gpu.memoryUsedBytes / 2 ** 30).toFixed(1)}/${(gpu.memoryTotalBytes / 2 ** 30).toFixed(1)} GiB ${gpu.utilizationPercent}%${gpu.leasedBy ? ` leased by ${gpu.leasedBy}` : ''}`);
        }
      }
      return 0;
  }
  console.log(USAGE);
  return command ? 2 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof HounsfieldApiError) {
      console.error(error.message);
      for (const issue of error.problem.errors ?? []) console.error(`  ${issue.path}: ${issue.message}`);
    } else {
      console.error(error instanceof Error ? error.message : error);
    }
    process.exit(1);
  },
);
