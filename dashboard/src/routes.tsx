import type { Location } from './router';
import { DeadLetters } from './pages/DeadLetters';
import { Deliveries } from './pages/Deliveries';
import { DeliveryDetail } from './pages/DeliveryDetail';
import { DestinationDetail } from './pages/DestinationDetail';
import { DestinationNew } from './pages/DestinationNew';
import { Destinations } from './pages/Destinations';
import { Domains } from './pages/Domains';
import { EventDetail } from './pages/EventDetail';
import { Events } from './pages/Events';
import { Home } from './pages/Home';
import { NotFound } from './pages/NotFound';

/** The page for a hash location (see dashboard/README.md for the list). */
export function Route({ loc }: { loc: Location }) {
  const [a, b, ...rest] = loc.segments;
  if (rest.length > 0) return <NotFound path={loc.raw} />;
  switch (a) {
    case undefined:
      return <Home />;
    case 'deliveries':
      return b === undefined ? <Deliveries query={loc.query} /> : <DeliveryDetail id={b} />;
    case 'dead-letters':
      return b === undefined ? <DeadLetters query={loc.query} /> : <NotFound path={loc.raw} />;
    case 'destinations':
      if (b === undefined) return <Destinations />;
      return b === 'new' ? <DestinationNew /> : <DestinationDetail id={b} />;
    case 'domains':
      return b === undefined ? <Domains /> : <NotFound path={loc.raw} />;
    case 'events':
      return b === undefined ? <Events /> : <EventDetail id={b} />;
    default:
      return <NotFound path={loc.raw} />;
  }
}
