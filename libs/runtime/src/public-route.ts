import { SetMetadata } from '@nestjs/common';

/** Metadata key of routes that need no token (health, the API document, the docs page). */
export const PUBLIC_ROUTE = 'hounsfield:public';

/** Marks a route (or a controller) as open to requests without a token. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
